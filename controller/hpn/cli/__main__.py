"""`python -m hpn.cli`: hpnctl, for starting it from this very Python (`emulate up --run`)."""

from hpn.cli import main

main()
