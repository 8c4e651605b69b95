"""Drives Sockerless with python3-docker (Debian's python3-docker).

Exits non-zero with a message on the first mismatch.
"""
import os
import sys

import docker

c = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto")
assert c.ping() is True
v = c.version()
assert v["ApiVersion"] == "1.50", v
c.images.pull("alpine", tag="3.20")
img = c.images.get("alpine:3.20")
assert any(e.startswith("PATH=") for e in img.attrs["Config"]["Env"]), img.attrs

ctr = c.containers.create("alpine:3.20", ["sleep", "1"], name="py1", labels={"suite": "py"}, environment={"A": "1"})
ctr.reload()
assert ctr.attrs["HostConfig"]["LogConfig"]["Type"] == "json-file", ctr.attrs["HostConfig"]
assert "A=1" in ctr.attrs["Config"]["Env"]
listed = c.containers.list(all=True, filters={"label": "suite=py"})
assert [x.name for x in listed] == ["py1"], listed
ctr.start()
res = ctr.wait(timeout=30)
assert res["StatusCode"] == 0, res
ctr.reload()
assert ctr.status == "exited", ctr.status

try:
    c.containers.get("nosuch")
    sys.exit("expected NotFound")
except docker.errors.NotFound as e:
    assert "No such container: nosuch" in str(e), e

try:
    c.containers.create("alpine:3.20", ["true"], name="py1")
    sys.exit("expected a conflict")
except docker.errors.APIError as e:
    assert e.status_code == 409, e

net = c.networks.create("pynet", labels={"suite": "py"})
assert net.attrs["IPAM"]["Config"][0]["Subnet"].startswith("172."), net.attrs
net.connect(ctr, aliases=["svc"])
ctr.reload()
assert "svc" in ctr.attrs["NetworkSettings"]["Networks"]["pynet"]["Aliases"]
net.disconnect(ctr)
net.remove()

vol = c.volumes.create("pyvol", labels={"suite": "py"})
assert vol.name == "pyvol"
vol.remove()

out = c.containers.run("alpine:3.20", ["true"], remove=True)
assert out == b"sockerless synthetic mode: no process runs for: true\n", out
ctr.remove(force=True)
assert c.containers.list(all=True) == []
print("python-docker OK")
