"""Project keys and secrets: Lockgate's keystore (``lockgate.keys``).

Modules, each with one job:

- ``crypto``    -- RSA keys and ``!encrypted/pkcs1-oaep`` values, no I/O;
- ``keystore``  -- ``KeyStore``: every project's keys in ZooKeeper, made on
  demand under a per-project lock, opened with ``[keystore] password``;
- ``generator`` -- ``KeyGenerator``: a thread that makes missing keys ahead of
  need (the scheduler runs one), never in anybody's way;
- ``secrets``   -- decrypting a frozen job's secrets for one playbook, with
  errors that name the secret and project and never the content;
- ``transfer``  -- ``lockgate keys export|import`` in Zuul's ``export-keys``
  format;
- ``cli``       -- ``lockgate keys ...`` and ``lockgate encrypt``.
"""
