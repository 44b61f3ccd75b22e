"""cl plugin for the ``hls_streaming`` compute task: HLS adaptive streams of videos.

Adds ``cl hls-streaming generate-manifest`` and the library client
:class:`cl_plugin_hls_streaming.client.HlsStreamingClient`.
"""

__version__ = "0.1.0"
