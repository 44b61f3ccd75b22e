"""cl plugin for the ``media_thumbnail`` compute task: thumbnails of images and videos.

Adds ``cl media-thumbnail generate`` and the library client
:class:`cl_plugin_media_thumbnail.client.MediaThumbnailClient`.
"""

__version__ = "0.1.0"
