"""``python -m cl_client.cli``: the same as the ``cl`` command."""

from cl_client.cli.app import main

main()
