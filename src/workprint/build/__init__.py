"""Dataset builds: from the collector's approved, sealed chunks to versioned training datasets.

Flow: :mod:`.source` (plan complete sessions, fetch + verify + reassemble chunks) ->
:mod:`.stages` (per session: the device export's reduction, keyframes and image encoding,
then :mod:`.filters`; per shard: the export formats' record writers, cut by :mod:`.shards`)
-> :mod:`.manifest` (``manifest.json``). :mod:`.engine` runs the stages in-process or on
Ray (plain tasks) with identical output; :mod:`.dataset` drives a build, registers the version in
the collector's metadata store and rebuilds versions that hold erased sessions.
"""

from .dataset import build_dataset, list_datasets, rebuild_dataset
from .filters import Filters

__all__ = ["Filters", "build_dataset", "list_datasets", "rebuild_dataset"]
