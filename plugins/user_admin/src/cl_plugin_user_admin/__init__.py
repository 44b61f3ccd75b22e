"""User administration for the CL auth service: ``cl user`` and :class:`UserAdminClient`.

The library client lives in :mod:`cl_plugin_user_admin.client`; this module stays empty so that the
plugin costs nothing at ``cl`` start-up.
"""

__version__ = "0.1.0"
