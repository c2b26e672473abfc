"""`stats-platform simulate`: realistic Discord traffic sent through POST /v1/events.

`model` draws the events (seeded, no clock), `plan` batches them like a bot (late and duplicated
batches included), `sender` delivers them with retries, `tally` counts what was delivered by the
rules of contract §2, and `run` ties them together in historical or live mode.
"""

from stats_platform.tools.simulate.model import ModelConfig, TrafficModel, generate
from stats_platform.tools.simulate.run import SimulationConfig, Summary, run_simulation
from stats_platform.tools.simulate.tally import GuildTally, MemberTally, Tally

__all__ = [
    "GuildTally",
    "MemberTally",
    "ModelConfig",
    "SimulationConfig",
    "Summary",
    "Tally",
    "TrafficModel",
    "generate",
    "run_simulation",
]
