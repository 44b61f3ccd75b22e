"""cl plugin for the ``face_detection`` compute task: face boxes, landmarks and aligned crops.

Adds ``cl face-detection detect`` and the library client
:class:`cl_plugin_face_detection.client.FaceDetectionClient`.
"""

__version__ = "0.1.0"
