"""cl plugin for the ``exif`` compute task: EXIF metadata of images.

Adds ``cl exif extract`` and the library client :class:`cl_plugin_exif.client.ExifClient`.
"""

__version__ = "0.1.0"
