"""An example third-party ``cl`` plugin: ``cl example fingerprint FILE...``.

Short content fingerprints (MD5 through the server's ``hash`` task) and a table of files with
identical content. It uses only the public API of ``cl-client``.
"""

__version__ = "0.1.0"
