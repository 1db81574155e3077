"""Zuul's configuration language: read, validate, build layouts, freeze jobs.

Modules by job (see doc/config.md):

- ``errors``: the ``ConfigError`` record every stage reports into;
- ``kinds``: Zuul's name for each kind of error (the API's ``name``);
- ``limits``: the bounds on reading (bytes, objects, alias expansion);
- ``yaml``: the YAML loader (Zuul's tags, file and line of every object);
- ``schema``: voluptuous schemas of every object type;
- ``discovery``: which files of a repository hold configuration;
- ``tenant``: the tenant config (``main.yaml``);
- ``parser``: files -> ``ConfigObject`` lists;
- ``layout``: ``ConfigObject`` lists -> a tenant ``Layout``;
- ``freeze``: a layout + an item -> the frozen job graph;
- ``site``: what checking needs of the service config (connections, labels);
- ``check``: the ``lockgate config check`` command.
"""
