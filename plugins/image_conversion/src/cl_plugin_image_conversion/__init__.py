"""cl plugin for the ``image_conversion`` compute task: convert images between formats.

Adds ``cl image-conversion convert`` and the library client
:class:`cl_plugin_image_conversion.client.ImageConversionClient`.
"""

__version__ = "0.1.0"
