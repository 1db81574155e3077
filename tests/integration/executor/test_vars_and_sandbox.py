"""What a playbook sees: the ``zuul`` variables and other variables, and the
limits of its bubblewrap sandbox (real ansible-playbook, real git)."""

from __future__ import annotations

import json
from pathlib import Path

from lockgate.executor.runner import JobRunner
from lockgate.model.builds import BuildResult

from tests.fixtures.executor import HOSTNAME, make_request, make_settings, playbooks, repo_state

DUMP = """
- hosts: localhost
  gather_facts: false
  tasks:
    - copy:
        content: "{{ {'zuul': zuul, 'job_var': job_var, 'extra_var': extra_var,
                      'site_var': site_var, 'shadowed': shadowed,
                      'cwd': lookup('env', 'PWD'), 'home': lookup('env', 'HOME')} | to_json }}"
        dest: "{{ zuul.executor.log_root }}/vars.json"
    - copy:
        content: "via work/logs"
        dest: "{{ zuul.executor.work_root }}/logs/via-work-logs.txt"
"""


def test_zuul_vars_and_job_site_extra_vars(upstream, tmp_path: Path):
    site = tmp_path / "site-vars.yaml"
    site.write_text("site_var: from-site\nshadowed: site\n")
    settings = make_settings(tmp_path, variables=str(site))
    tree = upstream.create("org/app", {"playbooks/dump.yaml": DUMP})
    lib = upstream.create("org/lib")
    lib_state = repo_state(lib)
    request = make_request(
        tree,
        job_name="dump-vars",
        run=playbooks(tree, ["playbooks/dump.yaml"]),
        extra_repos=[lib_state],
        timeout=600,
        post_timeout=300,
        attempts=2,
        vars={"job_var": "from-job", "shadowed": "job"},
        extra_vars={"extra_var": "from-extra"},
        required_projects=[{"name": "org/lib"}],
        tags=["t1"],
        voting=False,
    )
    outcome = JobRunner(settings).run(request, [])
    assert outcome.result is BuildResult.SUCCESS, outcome
    seen = json.loads((settings.log_root / request.uuid / "vars.json").read_text())
    assert (settings.log_root / request.uuid / "via-work-logs.txt").read_text() == "via work/logs"
    zuul = seen["zuul"]
    build_root = settings.state_dir / "builds" / request.uuid
    assert zuul["build"] == request.uuid
    assert zuul["buildset"] == request.buildset_uuid
    assert zuul["tenant"] == "example"
    assert zuul["pipeline"] == "post"
    assert zuul["job"] == "dump-vars"
    assert zuul["voting"] is False
    assert zuul["attempts"] == 1
    assert zuul["max_attempts"] == 2
    assert zuul["timeout"] == 600
    assert zuul["post_timeout"] == 300
    assert zuul["jobtags"] == ["t1"]
    assert zuul["event_id"] == request.event_id
    assert zuul["branch"] == "master"
    assert zuul["ref"] == "refs/heads/master"
    assert zuul["oldrev"] == "0" * 40
    assert zuul["newrev"] == tree.head()
    assert "message" not in zuul  # a ref event has no change message
    assert zuul["ansible_version"].startswith("2.")
    assert zuul["project"] == {
        "name": "org/app",
        "short_name": "app",
        "canonical_hostname": HOSTNAME,
        "canonical_name": f"{HOSTNAME}/org/app",
        "src_dir": f"src/{HOSTNAME}/org/app",
    }
    assert zuul["executor"] == {
        "hostname": "executor.test",
        "src_root": str(build_root / "work" / "src"),
        "log_root": str(settings.log_root / request.uuid),
        "work_root": str(build_root / "work"),
        "inventory_file": str(build_root / "ansible" / "inventory.yaml"),
        "result_data_file": str(build_root / "work" / "results.json"),
    }
    app = zuul["projects"][f"{HOSTNAME}/org/app"]
    assert app["commit"] == tree.head()
    assert app["checkout"] == "master"
    assert app["checkout_description"] == "zuul branch"
    assert app["required"] is False
    assert app["src_dir"] == f"src/{HOSTNAME}/org/app"
    libv = zuul["projects"][f"{HOSTNAME}/org/lib"]
    assert libv["required"] is True
    assert libv["short_name"] == "lib"
    assert libv["canonical_hostname"] == HOSTNAME
    assert libv["commit"] == lib.head()
    assert seen["job_var"] == "from-job"
    assert seen["extra_var"] == "from-extra"
    assert seen["site_var"] == "from-site"
    assert seen["shadowed"] == "site", "site variables take precedence over job vars"
    assert seen["cwd"] == str(build_root / "work")
    assert seen["home"] == str(build_root / "work")


PROBE = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: probe
      shell: |
        {{ item.cmd }}
      register: probe
      failed_when: false
      loop: "{{ probes }}"
    - copy:
        content: "{{ dict(probes | map(attribute='name') | zip(probe.results | map(attribute='rc'))) | to_json }}"
        dest: "{{ zuul.executor.log_root }}/probes.json"
"""


def test_sandbox_hides_the_executor_and_other_builds(upstream, tmp_path: Path):
    key = tmp_path / "executor-key"
    key.write_text("PRIVATE KEY MATERIAL\n")
    settings = make_settings(tmp_path, private_key_file=str(key), keep_jobdir="true")
    other = settings.state_dir / "builds" / "other-build"
    other.mkdir(parents=True)
    (other / "secret.txt").write_text("other build's file\n")
    outside = tmp_path / "outside.txt"
    conf = tmp_path / "lockgate.conf"
    probes = [
        {"name": "read_key", "cmd": f"cat {key}"},
        {"name": "read_conf", "cmd": f"cat {conf}"},
        {"name": "other_build", "cmd": f"cat {other / 'secret.txt'}"},
        {"name": "state_dir_git", "cmd": f"ls {settings.git_root}"},
        {"name": "write_outside", "cmd": f"echo x > {outside}"},
        {"name": "write_usr", "cmd": "echo x > /usr/lockgate-sandbox-test"},
        {"name": "write_root_home", "cmd": "echo x > /root/lockgate-sandbox-test"},
        {"name": "write_etc", "cmd": "echo x > /etc/lockgate-sandbox-test"},
        {"name": "plant_in_state_dir", "cmd": f"echo x > {settings.state_dir}/planted"},
        {"name": "edit_inventory", "cmd": "echo x >> {{ zuul.executor.inventory_file }}"},
        {"name": "write_work", "cmd": "echo x > {{ zuul.executor.work_root }}/mine.txt"},
        {"name": "read_own_src", "cmd": "cat {{ zuul.executor.src_root }}/*/org/app/README"},
    ]
    tree = upstream.create("org/app", {"probe.yaml": PROBE, "README": "app\n"})
    request = make_request(tree, run=playbooks(tree, ["probe.yaml"]), vars={"probes": probes})
    outcome = JobRunner(settings).run(request, [])
    assert outcome.result is BuildResult.SUCCESS, outcome
    rc = json.loads((settings.log_root / request.uuid / "probes.json").read_text())
    # Writing under /tmp lands in the sandbox's private tmpfs (so it may
    # "succeed"); what matters is that the host file never appears.
    for name in (
        "read_key",
        "read_conf",
        "other_build",
        "state_dir_git",
        "write_usr",
        "write_root_home",
        "write_etc",
        "edit_inventory",
    ):
        assert rc[name] != 0, f"{name} should fail inside the sandbox"
    assert rc["write_work"] == 0 and rc["read_own_src"] == 0
    assert not outside.exists()
    assert not Path("/usr/lockgate-sandbox-test").exists()
    assert not Path("/root/lockgate-sandbox-test").exists()
    assert not Path("/etc/lockgate-sandbox-test").exists()
    assert not (settings.state_dir / "planted").exists()
    assert (other / "secret.txt").read_text() == "other build's file\n"
    build_root = settings.state_dir / "builds" / request.uuid
    assert (build_root / "work" / "mine.txt").exists()
    assert "x" not in (build_root / "ansible" / "inventory.yaml").read_text().splitlines()


SECRET_DUMP = """
- hosts: localhost
  gather_facts: false
  tasks:
    - copy:
        content: "{{{{ creds | default('none') | to_json }}}}"
        dest: "{{{{ zuul.executor.log_root }}}}/{name}.json"
    - name: look for other playbooks' variable files
      shell: "cat {{{{ zuul.executor.inventory_file | dirname }}}}/vars-*.yaml > {{{{ zuul.executor.log_root }}}}/{name}-files.txt 2>/dev/null || true"
"""


def test_secrets_reach_only_their_playbooks(upstream, tmp_path: Path):
    settings = make_settings(tmp_path)
    tree = upstream.create(
        "org/app",
        {"run.yaml": SECRET_DUMP.format(name="run"), "post.yaml": SECRET_DUMP.format(name="post")},
    )
    run = playbooks(tree, ["run.yaml"])
    run[0].secrets = [0]
    secret = {"name": "creds", "secret": "site-creds", "data": {"user": "u1", "token": "t1"}}
    request = make_request(tree, run=run, post=playbooks(tree, ["post.yaml"]), secrets=[secret])
    outcome = JobRunner(settings).run(request, [])
    assert outcome.result is BuildResult.SUCCESS, outcome
    logs = settings.log_root / request.uuid
    assert json.loads((logs / "run.json").read_text()) == {"user": "u1", "token": "t1"}
    assert json.loads((logs / "post.json").read_text()) == "none"
    # The post-run playbook finds only its own file (zuul_success), not run's secrets.
    assert "t1" not in (logs / "post-files.txt").read_text()
    assert "zuul_success" in (logs / "post-files.txt").read_text()


def test_encrypted_secret_is_an_error_naming_it(upstream, tmp_path: Path):
    settings = make_settings(tmp_path)
    tree = upstream.create("org/app", {"run.yaml": SECRET_DUMP.format(name="run")})
    run = playbooks(tree, ["run.yaml"])
    run[0].secrets = [0]
    secret = {
        "name": "creds",
        "secret": "site-creds",
        "data": {"token": {"encrypted": "pkcs1-oaep", "ciphertext": ["abc"]}},
    }
    secret.update(project="org/app", connection="git")
    request = make_request(tree, run=run, secrets=[secret])
    outcome = JobRunner(settings).run(request, [])  # no keystore
    assert outcome.result is BuildResult.ERROR
    assert outcome.playbooks == []
    assert outcome.error_detail == (
        "secret 'site-creds' of project 'org/app' cannot be decrypted: this executor has no "
        "keystore ([keystore] password is not configured)"
    )
