"""Drivers: one package per code-review or event system (git, timer; later
gerrit, github, zuul), each with its connection, source, event source and
trigger filters, plugged in the same way.

``lockgate.drivers.base`` declares what a driver can do (``typing.Protocol``s);
``lockgate.drivers.registry`` finds drivers by name and builds the
connections the service config asks for.  See ``doc/drivers.md``.
"""
