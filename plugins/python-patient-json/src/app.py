"""The python-patient-json supplier plugin: a made-up supplier's JSON-lines
export, one patient a line with everything recorded about them nested
inside (FORMAT.md), read in Python behind the same WIT contract (sdk/wit,
world `plugin`) as every other plugin, built with componentize-py.

Its format differs from the project's two in structure, not only in
spelling: one file, one line per patient, the tables nested, ISO dates,
codes as strings. It exists to show a supplier proving a format the
project never writes with `gpes-plugin conformance --writer`
(`writer.py` beside this folder writes it from the kit's JSON lines).

Modules: `app` (this one), `extractor` (the running extraction),
`patient_json_format` (everything particular to the format) and `model`
(the common data model's rules, shared with python-example at build time).
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

from extractor import Extraction, State, internal_error

NAME = "python-patient-json"
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
