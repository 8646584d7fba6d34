"""The original service's client-side examples, as its guide writes them.

Only the import lines differ from the guide: ``qiskit_ibm_runtime`` (and its ``program`` and
``exceptions`` modules) became ``engine``. Run with the repository as the working directory
and ``ENGINE_HOME`` set; it prints one JSON line of what it saw.
"""

import json
import os

from engine import QiskitRuntimeService, ResultDecoder
from engine.errors import RuntimeInvalidStateError, RuntimeProgramNotFound
from tests.original_client.custom_class_program import MyCustomClass

service = QiskitRuntimeService()

hello_world_data = os.path.join(
    os.getcwd(), "program_source/hello_world/hello_world.py")
hello_world_json = os.path.join(
    os.getcwd(), "program_source/hello_world/hello_world.json")

program_id = service.upload_program(data=hello_world_data, metadata=hello_world_json)
service.update_program(program_id=program_id, description="A new description.")
program = service.program(program_id)

params = program.parameters()
params.iterations = 2
job = service.run(program_id, inputs=params, options={"backend": "ibmq_qasm_simulator"})
hello = job.result()
try:
    job.cancel()
    cancel_after_end = "no error"
except RuntimeInvalidStateError:
    cancel_after_end = "RuntimeInvalidStateError"

custom_id = service.upload_program(
    data="tests/original_client/custom_class_program.py",
    metadata="tests/original_client/custom_class_program.json")
program_inputs = {
    'my_obj': MyCustomClass("my foo", "my bar")
}
options = {"backend": "ibmq_qasm_simulator"}
job = service.run(program_id=custom_id,
                  options=options,
                  inputs=program_inputs)
output_str = job.result()
output = MyCustomClass.from_json(output_str)


class MyResultDecoder(ResultDecoder):
    @classmethod
    def decode(cls, data):
        data = super().decoded(data)  # Perform any preprocessing.
        return MyCustomClass.from_json(data)


decoded = job.result(decoder=MyResultDecoder)

service.delete_program(program_id)
try:
    service.program(program_id)
    after_delete = "still there"
except RuntimeProgramNotFound:
    after_delete = "RuntimeProgramNotFound"

print(json.dumps({
    "description": program.description,
    "hello": hello,
    "done": job.done(),
    "in_final_state": job.in_final_state(),
    "cancel_after_end": cancel_after_end,
    "custom": [output._foo, output._bar],
    "decoded": [decoded._foo, decoded._bar],
    "after_delete": after_delete,
}))
