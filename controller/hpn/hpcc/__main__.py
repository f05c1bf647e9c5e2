from hpn.hpcc.stopping import StopSignals

STOP = StopSignals().install()  # before the agent's imports: a stop at any moment is handled

from hpn.hpcc.cli import main  # noqa: E402

raise SystemExit(main(stop=STOP))
