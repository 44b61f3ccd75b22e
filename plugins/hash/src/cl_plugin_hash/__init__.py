"""cl plugin for the ``hash`` compute task: content hashes of media files.

Adds ``cl hash compute`` and the library client :class:`cl_plugin_hash.client.HashClient`.
"""

__version__ = "0.1.0"
