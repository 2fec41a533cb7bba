"""ServerApp: ``fldp_teach.flower.server.make_server_app`` (DPFedAvg, evaluation, JSON result)."""
from fldp_teach.flower.server import make_server_app

app = make_server_app()
