"""Ansible plugins shipped with the executor (loaded by ansible-playbook from this path, not imported by Lockgate)."""
