"""The worlds of the role matrix (tests/test_route_matrix.py) and of the API sweeps.

A world is the data a group of routes needs, built through the services: a fixture answering
(people, ids), the personas by name and the ids the routes' paths name ("{incident}",
"{draft}" …). The fixture `<name>_world` is in tests/worlds/<name>.py; tests/route_matrix.py's
GROUPS name it, with the routes it serves. Registered for the whole suite by tests/conftest.py
(pytest_plugins): a test asks for a world by its name, never imports it.

`api_world` (tests/worlds/api.py) is another kind: one world for a whole module, for the
schemathesis run and the hostile-input sweep.
"""
