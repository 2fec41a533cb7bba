"""The Flower app of the fldp_teach course: thin entry points over ``fldp_teach.flower``."""
