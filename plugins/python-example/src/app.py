"""The python-example supplier plugin: the csv-export format
(plugins/csv-export/FORMAT.md) read in Python, behind the same WIT contract
(sdk/wit, world `plugin`) as the Rust plugins, built with componentize-py.

It reads the practice's files only through the host's `data-source`
(WASI grants nothing), maps each line to a record of the common data model,
filters events and medications by the request's code sets and date windows,
and counts every line it could not use as a warning naming file and line.

Modules: `app` (this one: `describe` and `extract`), `extractor` (the
running extraction and its CSV reading), `csv_export_format` (everything
particular to the format) and `model` (the common data model's rules).
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

from extractor import Extraction, State, internal_error

NAME = "python-example"
VERSION = "0.1.0"
SUPPLIER = "GPES reference adapters"
DATA_MODEL_VERSION = 1


class Extractor(exports.Extractor):
    def describe(self):
        return types.PluginInfo(
            name=NAME,
            version=VERSION,
            supplier=SUPPLIER,
            data_model_version=DATA_MODEL_VERSION,
        )

    def extract(self, request):
        try:
            return Extraction(State(request))
        except Err:
            raise
        except Exception as e:
            raise internal_error(e) from None
