"""Secrets in builds, end to end inside the executor: real configuration
text (secrets made by ``lockgate encrypt``), frozen by the config layer,
decrypted with keys from a real ZooKeeper keystore, run by real
ansible-playbook in the sandbox.

One build shows the contract: the trusted base job's playbook gets its
secret (never templated), the untrusted playbooks get only their own and
find nothing of the other on disk or in the process table, and the console
masks what a task prints.  The bad-input cases fail the build before any
playbook runs, naming the secret and project and showing nothing of it,
and the executor goes on running other builds.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from lockgate.config.freeze import freeze_job
from lockgate.config.layout import build_layout
from lockgate.config.parser import parse_project_files
from lockgate.config.tenant import parse_tenant_config
from lockgate.executor.runner import JobRunner
from lockgate.keys import crypto
from lockgate.keys.keystore import KeyStore
from lockgate.model.builds import BuildRequest, BuildResult
from lockgate.model.jobs import NodeSpec

from tests.fixtures.executor import make_request, make_settings, playbooks, repo_state

TOKEN = "tok-" + uuid.uuid4().hex
HALF = len(TOKEN) // 2
APP_PASSWORD = "app-pw-" + uuid.uuid4().hex

TENANT = """
- tenant:
    name: example
    source:
      git:
        config-projects: [org/config]
        untrusted-projects: [org/app]
"""

# The trusted base job's playbook: proves it has the secret without
# writing it, and prints it (which the console must mask).
TRUSTED_PRE = """
- hosts: localhost
  gather_facts: false
  tasks:
    - copy:
        content: "{{ {'token_sha1': upload_creds.token | hash('sha1'),
                      'user': upload_creds.user,
                      'template': upload_creds.template} | to_json }}"
        dest: "{{ zuul.executor.log_root }}/trusted.json"
    - debug:
        msg: "the token is {{ upload_creds.token }}"
"""

# The untrusted job's playbooks: what they can find of the base job's secret.
SNOOP = r"""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: look everywhere for the token
      # The token's halves are joined by printf into grep's pattern list,
      # so no command line, environment or file here holds it whole.
      shell: |
        needle() { printf '%s%s\n' "@A@" "@B@"; }
        found=$(grep -rlF -f <(needle) {{ zuul.executor.work_root }}/.. /tmp "$HOME" 2>/dev/null | wc -l)
        procs=$(cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' '\n' | grep -cF -f <(needle) || true)
        memfds=$(ls -l /proc/[0-9]*/fd 2>/dev/null | grep -c "memfd:lockgate" || true)
        echo "$found $procs $memfds"
      args:
        executable: /bin/bash
      register: search
    - copy:
        content: "{{ {'var': upload_creds | default('none'),
                      'own': app_secret | default('none'),
                      'search': search.stdout.split()} | to_json }}"
        dest: "{{ zuul.executor.log_root }}/snoop-{{ lookup('env', 'LOCKGATE_PHASE') }}.json"
""".replace("@A@", TOKEN[:HALF]).replace("@B@", TOKEN[HALF:])


def lockgate_encrypt(public_pem: str, tmp_path: Path, name: str, field: str, value: str) -> str:
    """The stanza ``lockgate encrypt`` prints for ``value``."""
    pub = tmp_path / f"{name}.pub"
    pub.write_text(public_pem)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lockgate.cli",
            "encrypt",
            "--public-key",
            str(pub),
            "--secret-name",
            name,
            "--field-name",
            field,
        ],
        input=value,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


PASSWORD = "keystore-pw"


@pytest.fixture(scope="module")
def project_keys(zk_server):
    """The two projects' keys, made once for the module (RSA 4096 is slow)."""
    client = zk_server.client(f"/test-{uuid.uuid4().hex}")
    client.connect(timeout=15)
    try:
        store = KeyStore(client, PASSWORD)
        return {p: store.ensure("git", p) for p in ("org/config", "org/app")}
    finally:
        client.disconnect()


@pytest.fixture
def keystore(zk_client, project_keys):
    """This test's keystore, holding the module's keys."""
    store = KeyStore(zk_client, PASSWORD)
    for keys in project_keys.values():
        store.put(keys)
    return store


@pytest.fixture(scope="module")
def config(project_keys, tmp_path_factory) -> tuple[str, str]:
    return build_config(project_keys, tmp_path_factory.mktemp("encrypt"))


def build_config(project_keys, tmp_path: Path) -> tuple[str, str]:
    """The two repositories' zuul.yaml (secrets made with ``lockgate encrypt``)."""
    config_pub = project_keys["org/config"].public_key
    app_pub = project_keys["org/app"].public_key
    token = lockgate_encrypt(config_pub, tmp_path, "upload-creds", "token", TOKEN)
    template = lockgate_encrypt(config_pub, tmp_path, "t", "template", "{{ 7 * 6 }}")
    template_value = template.split("!encrypted/pkcs1-oaep\n", 1)[1]
    config_yaml = (
        token.rstrip("\n")
        + "\n      user: uploader\n      template: !encrypted/pkcs1-oaep\n"
        + template_value
        + """
- job:
    name: base
    parent: null
    pre-run: playbooks/trusted-pre.yaml
    secrets:
      - name: upload_creds
        secret: upload-creds
"""
    )
    app_yaml = (
        lockgate_encrypt(app_pub, tmp_path, "app-secret", "password", APP_PASSWORD)
        + """
- job:
    name: app-job
    run: playbooks/snoop.yaml
    secrets:
      - name: app_secret
        secret: app-secret
- job:
    name: app-child
    parent: app-job
    post-run: playbooks/snoop.yaml
"""
    )
    return config_yaml, app_yaml


def frozen(config_yaml: str, app_yaml: str, job: str):
    tenant = parse_tenant_config(TENANT).tenants["example"]
    loaded = []
    for name, text in (("org/config", config_yaml), ("org/app", app_yaml)):
        tp = tenant.project(name)
        objects, errors = parse_project_files({"zuul.yaml": text}, tp, "master")
        assert errors == [], [e.format() for e in errors]
        loaded.append((tp, objects))
    layout = build_layout(tenant, loaded)
    assert layout.errors == [], [e.format() for e in layout.errors]
    return freeze_job(layout, job, "master", project="org/app")


def request_for(job, config_tree, app_tree) -> BuildRequest:
    app, config = repo_state(app_tree), repo_state(config_tree)
    return BuildRequest(
        uuid=uuid.uuid4().hex,
        tenant="example",
        pipeline="post",
        buildset_uuid=uuid.uuid4().hex,
        event_id=uuid.uuid4().hex,
        job=job,
        project=app,
        repos=[app, config],
        zuul_vars={"newrev": app.commit},
    )


@pytest.fixture
def repos(upstream):
    config = upstream.create("org/config", {"playbooks/trusted-pre.yaml": TRUSTED_PRE})
    app = upstream.create("org/app", {"playbooks/snoop.yaml": SNOOP})
    return config, app


def all_text(*roots: Path) -> str:
    out = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.name != "snoop-run.json":
                out.append(path.read_text(errors="replace"))
    return "\n".join(out)


def test_secret_reaches_the_playbook_allowed_and_no_other(keystore, config, repos, tmp_path):
    settings = make_settings(tmp_path, keep_jobdir="true")
    config_yaml, app_yaml = config
    job = frozen(config_yaml, app_yaml, "app-child")
    # base's pre-run gets upload_creds; app-job's run gets app_secret; the
    # child's post-run (untrusted, another definition) gets nothing.
    assert [[job.secrets[i]["name"] for i in p.secrets] for p in job.pre_run] == [["upload_creds"]]
    assert [[job.secrets[i]["name"] for i in p.secrets] for p in job.run] == [["app_secret"]]
    assert [p.secrets for p in job.post_run] == [[]]
    request = request_for(job, *repos)
    outcome = JobRunner(settings, keys=keystore).run(request, [])
    assert outcome.result is BuildResult.SUCCESS, outcome
    logs = settings.log_root / request.uuid
    trusted = json.loads((logs / "trusted.json").read_text())
    assert trusted == {
        "token_sha1": hashlib.sha1(TOKEN.encode()).hexdigest(),
        "user": "uploader",
        "template": "{{ 7 * 6 }}",  # !unsafe: never templated
    }
    # The untrusted playbooks: the run has its own secret only; neither finds
    # the token in the build tree, /tmp, HOME, any process or memfd.
    run = json.loads((logs / "snoop-run.json").read_text())
    post = json.loads((logs / "snoop-post.json").read_text())
    assert run["var"] == "none" and run["own"] == {"password": APP_PASSWORD}
    assert post["var"] == "none" and post["own"] == "none"
    # (The run's two memfds are its own secrets and mask list; the post-run,
    # which has no secrets, has none.)
    assert run["search"] == ["0", "0", "2"] and post["search"] == ["0", "0", "0"]
    # Printed by the trusted playbook: masked in both console files.
    output = (logs / "job-output.txt").read_text()
    assert "the token is *****" in output
    build_root = settings.state_dir / "builds" / request.uuid
    everything = all_text(logs, build_root)
    assert TOKEN not in everything
    # The app's own password is only where its playbook wrote it.
    assert APP_PASSWORD not in everything
    assert "the token is *****" in (logs / "job-output.json").read_text()


@pytest.mark.parametrize(
    "damage, message",
    [
        ("other-key", "cannot be decrypted with the project's key (encrypted with another"),
        ("truncated", "is not valid base64 (incomplete: truncated?)"),
        ("corrupt", "cannot be decrypted with the project's key"),
        (
            "wrong-password",
            "the keystore password does not open the secrets key of project 'org/config'",
        ),
        ("missing-key", "project 'org/config' (connection 'git') has no keys in the keystore"),
        ("no-keystore", "this executor has no keystore"),
    ],
)
def test_bad_secrets_fail_the_build_before_it_runs_naming_secret_and_project(
    keystore, config, repos, tmp_path, zk_client, damage, message
):
    settings = make_settings(tmp_path)
    config_yaml, app_yaml = config
    job = frozen(config_yaml, app_yaml, "app-job")
    entry = next(s for s in job.secrets if s["secret"] == "upload-creds")
    chunks = entry["data"]["token"]["ciphertext"]
    keys = keystore
    if damage == "other-key":
        app_pub = crypto.load_public_pem(keystore.public_key("git", "org/app"))
        entry["data"]["token"]["ciphertext"] = crypto.encrypt(TOKEN, app_pub)
    elif damage == "truncated":
        chunks[0] = chunks[0].replace(" ", "")[:-5]
    elif damage == "corrupt":
        text = chunks[0].replace(" ", "")
        chunks[0] = text[:100] + ("B" if text[100] == "A" else "A") + text[101:]
    elif damage == "wrong-password":
        keys = KeyStore(zk_client, "not-the-password")
    elif damage == "missing-key":
        keystore.records.delete("git", "org/config")
    elif damage == "no-keystore":
        keys = None
    request = request_for(job, *repos)
    runner = JobRunner(settings, keys=keys)
    outcome = runner.run(request, [])
    assert outcome.result is BuildResult.ERROR
    assert outcome.playbooks == []  # nothing ran, not even a pre-run
    assert outcome.error_detail.startswith("secret 'upload-creds' of project 'org/config'")
    assert message in outcome.error_detail
    assert TOKEN not in outcome.error_detail and "keystore-pw" not in outcome.error_detail
    for chunk in chunks:
        assert chunk.split()[0][:12] not in outcome.error_detail
    if damage == "other-key":
        # The executor goes on: a build without the broken secret runs.
        other = frozen(config_yaml, app_yaml, "app-job")
        other.pre_run = []  # no base playbook: no upload_creds
        good = runner.run(request_for(other, *repos), [])
        assert good.result is BuildResult.SUCCESS, good


AGENT_KEYS = """
- hosts: all
  gather_facts: false
  tasks:
    - command: ssh-add -L
      delegate_to: localhost
      register: agent
    - copy:
        content: "{{ agent.stdout }}"
        dest: "{{ zuul.executor.log_root }}/agent-keys.txt"
      delegate_to: localhost
"""


def test_post_review_builds_get_their_projects_ssh_key(upstream, sshd_node, zk_client, tmp_path):
    """Zuul's project key: in the agent of post-review builds only, made on
    first need (this project has no keys yet)."""
    settings = make_settings(tmp_path, private_key_file=str(sshd_node.key.private))
    tree = upstream.create("org/app", {"run.yaml": AGENT_KEYS})
    keystore = KeyStore(zk_client, PASSWORD)
    runner = JobRunner(settings, keys=keystore)
    seen = {}
    for post_review in (True, False):
        request = make_request(
            tree,
            run=playbooks(tree, ["run.yaml"]),
            nodes=[NodeSpec(name=["node"], label="test-node")],
        )
        request.zuul_vars["post_review"] = post_review
        outcome = runner.run(request, [sshd_node.node])
        assert outcome.result is BuildResult.SUCCESS, outcome
        seen[post_review] = (settings.log_root / request.uuid / "agent-keys.txt").read_text()
    project_key = keystore.ssh_public_key("git", "org/app").split()[1]
    assert project_key in seen[True]
    assert project_key not in seen[False]
    assert len(seen[False].splitlines()) == 1  # the executor's key alone
    assert keystore.made == 1
