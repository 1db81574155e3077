"""Action plugins: ``zuul_return`` (a playbook's data for Zuul: child job variables, artifacts, pause, ...)."""
