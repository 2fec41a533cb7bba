"""ClientApp: ``fldp_teach.flower.client.make_client_app`` (our client_update; local DP / DP-SGD)."""
from fldp_teach.flower.client import make_client_app

app = make_client_app()
