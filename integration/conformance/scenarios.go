package conformance

// cli is a scenario of docker CLI lines.
func cli(family, name string, lines ...string) Scenario {
	return Scenario{Name: family + "/" + name, Family: family, Lines: lines}
}

// withStdin is cli with standard input for every line.
// timing marks s as depending on timing, with why (see Scenario.Timing).
func timing(why string, s Scenario) Scenario {
	s.Timing = why
	return s
}

func withStdin(family, name, stdin string, lines ...string) Scenario {
	s := cli(family, name, lines...)
	s.Stdin = stdin
	return s
}

// Scenarios is the corpus, by endpoint family.
func Scenarios() []Scenario {
	var s []Scenario
	s = append(s, runScenarios()...)
	s = append(s, execScenarios()...)
	s = append(s, lifecycleScenarios()...)
	s = append(s, inspectScenarios()...)
	s = append(s, listScenarios()...)
	s = append(s, logsScenarios()...)
	s = append(s, archiveScenarios()...)
	s = append(s, imageScenarios()...)
	s = append(s, volumeScenarios()...)
	s = append(s, networkScenarios()...)
	s = append(s, errorScenarios()...)
	s = append(s, systemScenarios()...)
	s = append(s, runnerScenarios()...)
	s = append(s, shellScenarios()...)
	s = append(s, sdkScenarios()...)
	return s
}

func runScenarios() []Scenario {
	const f = "run"
	return []Scenario{
		cli(f, "true", "docker run --rm busybox true"),
		cli(f, "exit-code", "docker run --rm busybox sh -c 'exit 3'"),
		cli(f, "exit-code-255", "docker run --rm busybox sh -c 'exit 255'"),
		cli(f, "stdout-stderr", "docker run --rm busybox sh -c 'echo out; echo err >&2'"),
		cli(f, "stdout-only", "docker run --rm busybox sh -c 'echo out; echo err >&2' 2>/dev/null"),
		cli(f, "default-cmd", "docker run --rm busybox"),
		cli(f, "echo-args", "docker run --rm busybox echo a 'b c' d"),
		cli(f, "env", "docker run --rm -e FOO=bar -e EMPTY= busybox sh -c 'echo \"$FOO|$EMPTY|${UNSET-unset}\"'"),
		cli(f, "env-path", "docker run --rm busybox sh -c 'echo $PATH'"),
		cli(f, "env-home", "docker run --rm busybox sh -c 'echo $HOME'"),
		cli(f, "env-home-user", "docker run --rm -u nobody busybox sh -c 'echo $HOME'"),
		cli(f, "workdir", "docker run --rm -w /tmp busybox pwd"),
		cli(f, "workdir-created", "docker run --rm -w /new/dir busybox pwd"),
		cli(f, "user-name", "docker run --rm -u nobody busybox id"),
		cli(f, "user-uid", "docker run --rm -u 1000 busybox id"),
		cli(f, "user-uid-gid", "docker run --rm -u 1000:1000 busybox id"),
		cli(f, "user-unknown", "docker run --rm -u nosuchuser busybox id"),
		cli(f, "hostname", "docker run --rm -h myhost busybox hostname"),
		cli(f, "hostname-default-is-id", "docker run --name hn busybox sh -c 'hostname | wc -c'"),
		cli(f, "etc-hostname", "docker run --rm -h box busybox cat /etc/hostname"),
		cli(f, "etc-hosts-localhost", "docker run --rm busybox grep -c localhost /etc/hosts"),
		cli(f, "entrypoint", "docker run --rm --entrypoint echo busybox hello"),
		cli(f, "entrypoint-empty-cmd", "docker run --rm --entrypoint /bin/sh busybox -c 'echo $0'"),
		cli(f, "command-not-found", "docker run --rm busybox nosuchcommand"),
		cli(f, "command-not-executable", "docker run --rm busybox /etc/passwd"),
		cli(f, "label", "docker run --name lb -l a=b busybox true", "docker inspect -f '{{.Config.Labels.a}}' lb"),
		cli(f, "name", "docker run --name named busybox true", "docker wait named", "docker ps -a --format '{{.Names}} {{.Status}}'"),
		cli(f, "name-conflict", "docker create --name dup busybox", "docker create --name dup busybox"),
		cli(f, "detach-id", "docker run -d --name dd busybox true | wc -c", "docker wait dd"),
		withStdin(f, "stdin", "hello\n", "docker run --rm -i busybox cat"),
		withStdin(f, "stdin-wc", "a\nb\nc\n", "docker run --rm -i busybox wc -l"),
		withStdin(f, "no-stdin-without-i", "hello\n", "docker run --rm busybox cat"),
		cli(f, "tmpfs", "docker run --rm --tmpfs /scratch busybox sh -c 'echo x > /scratch/f && cat /scratch/f'"),
		cli(f, "read-only", "docker run --rm --read-only busybox touch /x"),
		cli(f, "read-only-tmp-tmpfs", "docker run --rm --read-only --tmpfs /tmp busybox touch /tmp/x"),
		cli(f, "init", "docker run --rm --init busybox true"),
		cli(f, "rm-then-gone", "docker run --rm --name gone busybox true", "docker ps -a --format '{{.Names}}'"),
		cli(f, "restart-policy-no-rm", "docker run --rm --restart always busybox true"),
		cli(f, "sig-proxy-exit", "docker run --rm busybox sh -c 'kill -TERM $$; sleep 1; echo survived'"),
		cli(f, "pid1", "docker run --rm busybox sh -c 'echo $$'"),
		cli(f, "stop-signal-label", "docker create --name ss --stop-signal SIGUSR1 busybox", "docker inspect -f '{{.Config.StopSignal}}' ss"),
	}
}

func execScenarios() []Scenario {
	const f = "exec"
	start := "docker run -d --name ex busybox sleep 300"
	return []Scenario{
		cli(f, "simple", start, "docker exec ex echo hi"),
		cli(f, "exit-code", start, "docker exec ex sh -c 'exit 7'"),
		cli(f, "env", start, "docker exec -e A=1 ex sh -c 'echo $A'"),
		cli(f, "workdir", start, "docker exec -w /etc ex pwd"),
		cli(f, "user", start, "docker exec -u nobody ex id"),
		cli(f, "user-unknown", start, "docker exec -u nosuch ex id"),
		withStdin(f, "stdin", "data\n", start, "docker exec -i ex cat"),
		cli(f, "tty", start, "docker exec -t ex tty"),
		cli(f, "not-found", start, "docker exec ex nosuchcmd"),
		cli(f, "stopped-container", "docker create --name ex busybox", "docker exec ex true"),
		cli(f, "no-such-container", "docker exec nosuch true"),
		cli(f, "detach", start, "docker exec -d ex sh -c 'echo x > /tmp/mark'", "docker exec ex sh -c 'while [ ! -f /tmp/mark ]; do sleep 0.1; done; cat /tmp/mark'"),
		cli(f, "stderr", start, "docker exec ex sh -c 'echo e >&2'"),
		cli(f, "sees-files", start, "docker exec ex sh -c 'echo y > /tmp/f'", "docker exec ex cat /tmp/f"),
		cli(f, "inherits-env", "docker run -d --name ex -e BASE=1 busybox sleep 300", "docker exec ex sh -c 'echo $BASE'"),
		cli(f, "inherits-workdir", "docker run -d --name ex -w /tmp busybox sleep 300", "docker exec ex pwd"),
		cli(f, "inherits-user", "docker run -d --name ex -u nobody busybox sleep 300", "docker exec ex id -u"),
		cli(f, "privileged-flag", start, "docker exec --privileged ex true"),
		cli(f, "paused", start, "docker pause ex", "docker exec ex true", "docker unpause ex"),
	}
}

// ready is a line that waits until container name has logged "ready": a
// signal sent before the shell installed its trap would hit PID 1 without a
// handler (ignored, then killed after the timeout) and make the outcome
// depend on timing.
func ready(name string) string {
	return "until docker logs " + name + " 2>/dev/null | grep -q ready; do sleep 0.1; done"
}

func lifecycleScenarios() []Scenario {
	const f = "lifecycle"
	return []Scenario{
		cli(f, "create-start-wait", "docker create --name lc busybox sh -c 'exit 4'", "docker start lc", "docker wait lc"),
		cli(f, "create-status", "docker create --name lc busybox", "docker inspect -f '{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}' lc"),
		cli(f, "start-attach", "docker create --name lc busybox echo attached", "docker start -a lc"),
		withStdin(f, "start-attach-stdin", "in\n", "docker create -i --name lc busybox cat", "docker start -ai lc"),
		cli(f, "stop", "docker run -d --name lc busybox sleep 300", "docker stop -t 1 lc", "docker inspect -f '{{.State.Status}}' lc"),
		cli(f, "stop-exit-code-trap", "docker run -d --name lc busybox sh -c 'trap \"exit 0\" TERM; echo ready; while true; do sleep 0.1; done'", ready("lc"), "docker stop lc", "docker inspect -f '{{.State.ExitCode}}' lc"),
		cli(f, "stop-pid1-ignores-term", "docker run -d --name lc busybox sleep 300", "docker stop -t 1 lc", "docker inspect -f '{{.State.ExitCode}}' lc"),
		cli(f, "stop-stopped", "docker create --name lc busybox", "docker stop lc"),
		cli(f, "kill", "docker run -d --name lc busybox sleep 300", "docker kill lc", "docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' lc"),
		cli(f, "kill-signal", "docker run -d --name lc busybox sh -c 'trap \"exit 5\" USR1; echo ready; while true; do sleep 0.1; done'", ready("lc"), "docker kill -s USR1 lc", "docker wait lc"),
		cli(f, "kill-not-running", "docker create --name lc busybox", "docker kill lc"),
		cli(f, "kill-bad-signal", "docker run -d --name lc busybox sleep 300", "docker kill -s NOSIG lc"),
		cli(f, "restart", "docker run -d --name lc busybox sleep 300", "docker restart -t 1 lc", "docker inspect -f '{{.State.Running}} {{.RestartCount}}' lc"),
		cli(f, "restart-exited", "docker run --name lc busybox true", "docker restart lc", "docker wait lc"),
		cli(f, "rm-running", "docker run -d --name lc busybox sleep 300", "docker rm lc"),
		cli(f, "rm-force", "docker run -d --name lc busybox sleep 300", "docker rm -f lc", "docker ps -aq | wc -l"),
		cli(f, "rm-missing", "docker rm nosuch"),
		cli(f, "wait-exited", "docker run --name lc busybox sh -c 'exit 9'", "docker wait lc"),
		cli(f, "wait-missing", "docker wait nosuch"),
		cli(f, "pause-unpause", "docker run -d --name lc busybox sleep 300", "docker pause lc", "docker inspect -f '{{.State.Status}} {{.State.Paused}}' lc", "docker unpause lc", "docker inspect -f '{{.State.Status}}' lc"),
		cli(f, "pause-not-running", "docker create --name lc busybox", "docker pause lc"),
		cli(f, "unpause-not-paused", "docker run -d --name lc busybox sleep 300", "docker unpause lc"),
		cli(f, "rename", "docker create --name lc busybox", "docker rename lc lc2", "docker ps -a --format '{{.Names}}'"),
		cli(f, "rename-conflict", "docker create --name lc busybox", "docker create --name lc2 busybox", "docker rename lc lc2"),
		cli(f, "start-twice", "docker run -d --name lc busybox sleep 300", "docker start lc"),
		cli(f, "restart-policy-on-failure", "docker run -d --name lc --restart on-failure:2 busybox sh -c 'exit 1'", "docker inspect -f '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}' lc"),
		cli(f, "top", "docker run -d --name lc busybox sleep 300", "docker top lc | tail -n +2 | awk '{print $NF, $(NF-1)}'"),
		cli(f, "top-not-running", "docker create --name lc busybox", "docker top lc"),
		cli(f, "stats-no-stream-format", "docker run -d --name lc busybox sleep 300", "docker stats --no-stream --format '{{.Name}}' lc"),
		cli(f, "update-restart", "docker run -d --name lc busybox sleep 300", "docker update --restart always lc", "docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' lc"),
		cli(f, "diff", "docker run --name lc busybox sh -c 'touch /tmp/new'", "docker diff lc"),
		cli(f, "export", "docker run --name lc busybox sh -c 'echo x > /marker'", "docker export lc | tar -t | grep -c '^marker$'"),
		cli(f, "commit", "docker run --name lc busybox sh -c 'echo x > /marker'", "docker commit lc committed:1 | wc -c", "docker run --rm committed:1 cat /marker"),
		cli(f, "port-none", "docker run -d --name lc busybox sleep 300", "docker port lc"),
	}
}

func inspectScenarios() []Scenario {
	const f = "inspect"
	c := "docker create --name in -e A=1 -l k=v -w /tmp -u nobody --entrypoint sh busybox -c true"
	field := func(name, tmpl string) Scenario {
		return cli(f, name, c, "docker inspect -f '"+tmpl+"' in")
	}
	return []Scenario{
		field("name", "{{.Name}}"),
		field("path-args", "{{.Path}} {{json .Args}}"),
		field("config-cmd", "{{json .Config.Cmd}} {{json .Config.Entrypoint}}"),
		field("config-env", "{{json .Config.Env}}"),
		field("config-workdir-user", "{{.Config.WorkingDir}} {{.Config.User}}"),
		field("config-labels", "{{json .Config.Labels}}"),
		field("config-image", "{{.Config.Image}}"),
		field("config-tty-stdin", "{{.Config.Tty}} {{.Config.OpenStdin}} {{.Config.StdinOnce}} {{.Config.AttachStdout}}"),
		field("state", "{{json .State.Status}} {{.State.Pid}} {{.State.OOMKilled}} {{.State.Dead}}"),
		field("restart-count", "{{.RestartCount}}"),
		field("driver-platform", "{{.Driver}} {{.Platform}}"),
		field("hostconfig-network-mode", "{{.HostConfig.NetworkMode}}"),
		field("hostconfig-restart", "{{json .HostConfig.RestartPolicy}}"),
		field("hostconfig-logconfig", "{{.HostConfig.LogConfig.Type}}"),
		field("hostconfig-ipc", "{{.HostConfig.IpcMode}} {{.HostConfig.PidMode}}"),
		field("hostconfig-autoremove", "{{.HostConfig.AutoRemove}} {{.HostConfig.Privileged}} {{.HostConfig.ReadonlyRootfs}}"),
		field("mounts-empty", "{{json .Mounts}}"),
		field("network-settings-networks", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}"),
		cli(f, "bind-mount", "docker create --name in -v /tmp:/host:ro busybox", "docker inspect -f '{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.RW}} {{.Mode}}{{end}}' in"),
		cli(f, "volume-mount", "docker create --name in -v vol1:/data busybox", "docker inspect -f '{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}} {{.Driver}}{{end}}' in"),
		cli(f, "anonymous-volume", "docker create --name in -v /data busybox", "docker inspect -f '{{range .Mounts}}{{.Type}} {{.Destination}}{{end}}' in", "docker volume ls -q | wc -l"),
		cli(f, "tmpfs-hostconfig", "docker create --name in --tmpfs /run:size=1m busybox", "docker inspect -f '{{json .HostConfig.Tmpfs}}' in"),
		cli(f, "running-state", "docker run -d --name in busybox sleep 300", "docker inspect -f '{{.State.Status}} {{.State.Running}} {{gt .State.Pid 0}}' in"),
		cli(f, "exited-state", "docker run --name in busybox sh -c 'exit 2'", "docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}' in"),
		cli(f, "missing", "docker inspect nosuch"),
		cli(f, "type-container", "docker create --name in busybox", "docker inspect --type container -f '{{.Name}}' in"),
		cli(f, "health-config", "docker create --name in --health-cmd 'true' --health-interval 5s --health-retries 2 busybox", "docker inspect -f '{{json .Config.Healthcheck}}' in"),
		cli(f, "health-status", "docker run -d --name in --health-cmd 'true' --health-interval 200ms busybox sleep 300", "until [ \"$(docker inspect -f '{{.State.Health.Status}}' in)\" = healthy ]; do sleep 0.1; done; docker inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}}' in"),
		cli(f, "health-unhealthy", "docker run -d --name in --health-cmd 'false' --health-interval 200ms --health-retries 1 busybox sleep 300", "until [ \"$(docker inspect -f '{{.State.Health.Status}}' in)\" = unhealthy ]; do sleep 0.1; done; docker inspect -f '{{.State.Health.Status}}' in"),
		cli(f, "size", "docker create --name in busybox", "docker inspect -s -f '{{.SizeRw}}' in"),
	}
}

func listScenarios() []Scenario {
	const f = "ps"
	// The final wait settles p3's state before the listing.
	three := []string{"docker create --name p1 -l team=a busybox", "docker run -d --name p2 -l team=b busybox sleep 300", "docker run --name p3 busybox sh -c 'exit 1'", "docker wait p3"}
	with := func(name string, lines ...string) Scenario {
		return cli(f, name, append(append([]string{}, three...), lines...)...)
	}
	return []Scenario{
		cli(f, "empty", "docker ps"),
		cli(f, "empty-all", "docker ps -a"),
		with("running", "docker ps --format '{{.Names}}'"),
		with("all-sorted", "docker ps -a --format '{{.Names}}'"),
		with("quiet-count", "docker ps -aq | wc -l"),
		with("filter-status-exited", "docker ps -a --filter status=exited --format '{{.Names}}'"),
		with("filter-status-created", "docker ps -a --filter status=created --format '{{.Names}}'"),
		with("filter-label", "docker ps -a --filter label=team=a --format '{{.Names}}'"),
		with("filter-label-key", "docker ps -a --filter label=team --format '{{.Names}}'"),
		with("filter-name", "docker ps -a --filter name=p2 --format '{{.Names}}'"),
		with("filter-exited-code", "docker ps -a --filter exited=1 --format '{{.Names}}'"),
		with("filter-bad", "docker ps --filter nosuch=1"),
		with("filter-status-bad", "docker ps --filter status=sleeping"),
		with("format-status", "docker ps -a --format '{{.Names}} {{.Status}}'"),
		with("format-command", "docker ps -a --no-trunc --format '{{.Names}} {{.Command}}'"),
		with("format-image", "docker ps -a --format '{{.Image}}'"),
		with("format-labels", "docker ps -a --format '{{.Names}} {{.Labels}}'"),
		with("format-state", "docker ps -a --format '{{.Names}} {{.State}}'"),
		with("last", "docker ps -a -n 1 --format '{{.Names}}'"),
		with("latest", "docker ps -l --format '{{.Names}}'"),
		with("table-header", "docker ps -a --format 'table {{.Names}}\t{{.State}}'"),
		with("filter-id-prefix", "docker ps -a --filter id=$(docker inspect -f '{{.Id}}' p1 | cut -c1-12) --format '{{.Names}}'"),
	}
}

func logsScenarios() []Scenario {
	const f = "logs"
	run := "docker run --name lg busybox sh -c 'echo one; echo two >&2; echo three'"
	return []Scenario{
		cli(f, "all", run, "docker logs lg"),
		cli(f, "stdout-only", run, "docker logs lg 2>/dev/null"),
		cli(f, "stderr-only", run, "docker logs lg >/dev/null"),
		// stdout only: lines of stdout and stderr written together have
		// no order (the engine itself gives either), so the last is not
		// known.
		cli(f, "tail", "docker run --name lg busybox sh -c 'echo one; echo two; echo three'", "docker logs --tail 1 lg"),
		cli(f, "tail-zero", run, "docker logs --tail 0 lg"),
		// sorted: stdout and stderr lines of the same instant have no
		// order (the engine itself gives either).
		cli(f, "timestamps-shape", run, "docker logs -t lg 2>&1 | sed 's/^[^ ]* //' | sort"),
		cli(f, "follow-exited", run, "docker logs -f lg"),
		cli(f, "follow-running", "docker run -d --name lg busybox sh -c 'echo a; sleep 1; echo b'", "docker logs -f lg"),
		cli(f, "missing", "docker logs nosuch"),
		cli(f, "tty", "docker run -t --name lg busybox echo tty", "docker logs lg | od -c | head -1"),
		cli(f, "since-future", run, "docker logs --since 2099-01-01T00:00:00Z lg"),
		cli(f, "details", run, "docker logs --details lg"),
		cli(f, "created-no-logs", "docker create --name lg busybox echo x", "docker logs lg"),
		timing("the attach must be in place before the workload writes its line one second after its start, which a loaded machine does not guarantee (fed stdin instead, Docker's own attach ends its output when stdin ends, racing the answer)",
			cli(f, "attach-running", "docker run -d --name lg busybox sh -c 'sleep 1; echo late'", "docker attach lg")),
	}
}

func archiveScenarios() []Scenario {
	const f = "cp"
	run := "docker run -d --name cp1 busybox sleep 300"
	return []Scenario{
		cli(f, "out-file", run, "docker cp cp1:/etc/passwd - | tar -x -O | head -1"),
		cli(f, "out-file-to-dir", run, "d=$(mktemp -d); docker cp cp1:/etc/group $d/ && head -2 $d/group; rm -rf $d"),
		cli(f, "out-dir-listing", run, "docker exec cp1 sh -c 'mkdir -p /d/sub && echo 1 > /d/a && echo 2 > /d/sub/b'", "docker cp cp1:/d - | tar -t | sort"),
		cli(f, "out-missing", run, "docker cp cp1:/nosuch -"),
		cli(f, "in-file", run, "d=$(mktemp -d); echo payload > $d/f; docker cp $d/f cp1:/tmp/f; rm -rf $d", "docker exec cp1 cat /tmp/f"),
		cli(f, "in-dir", run, "d=$(mktemp -d); mkdir $d/x; echo 1 > $d/x/y; docker cp $d/x cp1:/tmp/; rm -rf $d", "docker exec cp1 cat /tmp/x/y"),
		cli(f, "in-stdin-tar", run, "d=$(mktemp -d); echo t > $d/t; tar -C $d -c t | docker cp - cp1:/tmp; rm -rf $d", "docker exec cp1 cat /tmp/t"),
		cli(f, "in-missing-dest-dir", run, "d=$(mktemp -d); echo 1 > $d/f; docker cp $d/f cp1:/nosuch/dir/; rm -rf $d"),
		cli(f, "stopped-container", "docker create --name cp1 busybox", "docker cp cp1:/etc/passwd - | tar -t"),
		cli(f, "out-root-entries", run, "docker cp cp1:/ - | tar -t | grep -c '^etc/passwd$'"),
		cli(f, "out-symlink-dir-follow", run, "docker exec cp1 sh -c 'mkdir /real && echo r > /real/f && ln -s /real /link'", "docker cp cp1:/link/ - | tar -t | sort"),
		cli(f, "out-not-a-directory", run, "docker cp cp1:/etc/passwd/ -"),
		cli(f, "missing-container", "docker cp nosuch:/etc/passwd -"),
	}
}

func imageScenarios() []Scenario {
	const f = "image"
	return []Scenario{
		cli(f, "ls-busybox", "docker images --format '{{.Repository}}:{{.Tag}}'"),
		cli(f, "inspect-cmd", "docker image inspect -f '{{json .Config.Cmd}}' busybox"),
		cli(f, "inspect-os-arch", "docker image inspect -f '{{.Os}} {{.Architecture}}' busybox"),
		cli(f, "inspect-repotags", "docker image inspect -f '{{json .RepoTags}}' busybox"),
		cli(f, "inspect-missing", "docker image inspect nosuch:1"),
		cli(f, "tag", "docker tag busybox mine:1", "docker images --format '{{.Repository}}:{{.Tag}}' | sort"),
		cli(f, "tag-then-rmi", "docker tag busybox mine:1", "docker rmi mine:1", "docker images --format '{{.Repository}}:{{.Tag}}' | sort"),
		cli(f, "rmi-in-use", "docker tag busybox mine:1", "docker create --name u mine:1", "docker rmi mine:1"),
		cli(f, "rmi-missing", "docker rmi nosuch:1"),
		cli(f, "rmi-force-one-tag", "docker tag busybox mine:1", "docker tag busybox mine:2", "docker rmi -f mine:1", "docker images --format '{{.Repository}}:{{.Tag}}' mine"),
		cli(f, "history-count", "docker history -q busybox | wc -l"),
		cli(f, "filter-reference", "docker tag busybox mine:1", "docker images --filter reference='mine*' --format '{{.Repository}}:{{.Tag}}'"),
		cli(f, "build-from-busybox", "d=$(mktemp -d); printf 'FROM busybox\\nENV X=1\\nCMD [\"sh\",\"-c\",\"echo $X\"]\\n' > $d/Dockerfile; DOCKER_BUILDKIT=0 docker build -q -t built:1 $d >/dev/null; rm -rf $d", "docker run --rm built:1"),
		cli(f, "build-run-step", "d=$(mktemp -d); printf 'FROM busybox\\nRUN echo made > /made\\n' > $d/Dockerfile; DOCKER_BUILDKIT=0 docker build -q -t built:2 $d >/dev/null; rm -rf $d", "docker run --rm built:2 cat /made"),
		cli(f, "save", "docker save busybox | tar -t | grep -c manifest.json"),
		cli(f, "import", "d=$(mktemp -d); echo hi > $d/f; tar -C $d -c f | docker import - imported:1 >/dev/null; rm -rf $d", "docker images --format '{{.Repository}}:{{.Tag}}' imported"),
		cli(f, "prune-dangling-none", "docker image prune -f"),
	}
}

func volumeScenarios() []Scenario {
	const f = "volume"
	return []Scenario{
		cli(f, "create-ls", "docker volume create v1", "docker volume ls --format '{{.Name}} {{.Driver}}'"),
		cli(f, "inspect", "docker volume create -l a=b v1", "docker volume inspect -f '{{.Name}} {{.Driver}} {{.Scope}} {{json .Labels}}' v1"),
		cli(f, "data-shared", "docker volume create v1", "docker run --rm -v v1:/d busybox sh -c 'echo kept > /d/f'", "docker run --rm -v v1:/d busybox cat /d/f"),
		cli(f, "rm", "docker volume create v1", "docker volume rm v1", "docker volume ls -q"),
		cli(f, "rm-in-use", "docker volume create v1", "docker create --name u -v v1:/d busybox", "docker volume rm v1"),
		cli(f, "rm-missing", "docker volume rm nosuch"),
		cli(f, "inspect-missing", "docker volume inspect nosuch"),
		cli(f, "implicit-create", "docker run --rm -v auto1:/d busybox true", "docker volume ls -q"),
		cli(f, "filter-label", "docker volume create -l x=1 v1", "docker volume create v2", "docker volume ls -q --filter label=x"),
		cli(f, "prune", "docker volume create v1", "docker volume prune -af | tail -1"),
		cli(f, "anonymous-removed-with-rm", "docker run --rm -v /data busybox true", "docker volume ls -q | wc -l"),
		cli(f, "mount-flag-volume", "docker run --rm --mount type=volume,source=mv,target=/m busybox sh -c 'echo ok > /m/f && cat /m/f'"),
		cli(f, "bind-rw", "d=$(mktemp -d); docker run --rm -v $d:/h busybox sh -c 'echo w > /h/f'; cat $d/f; rm -rf $d"),
		cli(f, "bind-ro", "d=$(mktemp -d); docker run --rm -v $d:/h:ro busybox touch /h/f; rm -rf $d"),
	}
}

func networkScenarios() []Scenario {
	const f = "network"
	return []Scenario{
		cli(f, "ls-default", "docker network ls --format '{{.Name}} {{.Driver}} {{.Scope}}' | sort"),
		cli(f, "create-inspect", "docker network create n1 >/dev/null", "docker network inspect -f '{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Attachable}}' n1"),
		cli(f, "create-duplicate", "docker network create n1 >/dev/null", "docker network create n1"),
		cli(f, "rm", "docker network create n1 >/dev/null", "docker network rm n1", "docker network ls -q --filter name=n1"),
		cli(f, "rm-missing", "docker network rm nosuch"),
		cli(f, "rm-builtin", "docker network rm bridge"),
		cli(f, "connect-inspect", "docker network create n1 >/dev/null", "docker create --name c1 busybox", "docker network connect n1 c1", "docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' c1"),
		cli(f, "run-on-network", "docker network create n1 >/dev/null", "docker run -d --name c1 --network n1 busybox sleep 300", "docker inspect -f '{{.HostConfig.NetworkMode}}' c1"),
		cli(f, "dns-by-name", "docker network create n1 >/dev/null", "docker run -d --name srv --network n1 busybox sleep 300", "docker run --rm --network n1 busybox sh -c 'ping -c1 -W2 srv >/dev/null && echo reached'"),
		cli(f, "alias", "docker network create n1 >/dev/null", "docker run -d --name srv --network n1 --network-alias db busybox sleep 300", "docker run --rm --network n1 busybox sh -c 'ping -c1 -W2 db >/dev/null && echo reached'"),
		cli(f, "filter-label", "docker network create -l k=v n1 >/dev/null", "docker network create n2 >/dev/null", "docker network ls --filter label=k --format '{{.Name}}'"),
		cli(f, "prune", "docker network create n1 >/dev/null", "docker network prune -f"),
		cli(f, "disconnect", "docker network create n1 >/dev/null", "docker create --name c1 --network n1 busybox", "docker network disconnect n1 c1", "docker inspect -f '{{len .NetworkSettings.Networks}}' c1"),
		cli(f, "network-none", "docker run --rm --network none busybox sh -c 'ls /sys/class/net | sort'"),
		cli(f, "ip-addr", "docker run --rm busybox sh -c 'ip -o -4 addr show eth0 | wc -l'"),
		cli(f, "inspect-missing", "docker network inspect nosuch"),
	}
}

func errorScenarios() []Scenario {
	const f = "errors"
	return []Scenario{
		cli(f, "image-missing-run", "docker run --rm --pull never nosuchimage:1 true"),
		cli(f, "bad-reference", "docker run --rm 'UPPER:case' true"),
		cli(f, "start-missing", "docker start nosuch"),
		cli(f, "stop-missing", "docker stop nosuch"),
		cli(f, "kill-missing", "docker kill nosuch"),
		cli(f, "restart-missing", "docker restart nosuch"),
		cli(f, "pause-missing", "docker pause nosuch"),
		cli(f, "rename-missing", "docker rename nosuch other"),
		cli(f, "name-too-short", "docker create --name a busybox"),
		cli(f, "name-invalid", "docker create --name 'bad name' busybox"),
		cli(f, "workdir-relative", "docker create --name wd -w rel busybox"),
		cli(f, "memory-too-small", "docker create --name mm -m 1 busybox"),
		cli(f, "cpu-shares-negative", "docker create --name cs --cpu-shares -1 busybox"),
		cli(f, "env-empty-name", "docker create --name ee -e =foo busybox"),
		cli(f, "link-missing", "docker create --name lk --link nosuch:alias busybox"),
		cli(f, "volumes-from-missing", "docker create --name vf --volumes-from nosuch busybox"),
		cli(f, "tmpfs-relative", "docker create --name tf --tmpfs foo busybox"),
		cli(f, "ipc-invalid", "docker create --name ip --ipc invalid busybox"),
		cli(f, "pid-container-missing", "docker create --name pd --pid container:nosuch busybox"),
		cli(f, "restart-rm-conflict", "docker create --rm --restart always busybox"),
		cli(f, "health-negative", "docker create --name hn --health-interval -1s --health-cmd true busybox"),
		cli(f, "publish-bad", "docker create --name pb -p notaport busybox"),
		cli(f, "exec-created", "docker create --name ec busybox", "docker exec ec true"),
		cli(f, "attach-stopped", "docker create --name as busybox", "docker attach as"),
		cli(f, "rm-volume-in-use-by-running", "docker run -d --name vr -v vru:/d busybox sleep 300", "docker volume rm vru"),
	}
}

func systemScenarios() []Scenario {
	const f = "system"
	return []Scenario{
		cli(f, "version-api", "docker version --format '{{.Server.APIVersion}}'"),
		cli(f, "version-client-api", "docker version --format '{{.Client.APIVersion}}'"),
		cli(f, "version-os-arch", "docker version --format '{{.Server.Os}} {{.Server.Arch}}'"),
		cli(f, "info-counts", "docker run -d --name i1 busybox sleep 300", "docker create --name i2 busybox", "docker info --format '{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}}'"),
		cli(f, "info-os-type", "docker info --format '{{.OSType}} {{.Architecture}}'"),
		cli(f, "info-images", "docker info --format '{{.Images}}'"),
		cli(f, "ping", "curl -s --unix-socket ${DOCKER_HOST#unix://} http://d/_ping"),
		cli(f, "ping-head-status", "curl -s -o /dev/null -w '%{http_code}' -I --unix-socket ${DOCKER_HOST#unix://} http://d/_ping"),
		cli(f, "unknown-endpoint", "curl -s -o /dev/null -w '%{http_code}' --unix-socket ${DOCKER_HOST#unix://} http://d/v1.50/nosuch"),
		cli(f, "too-new-api", "curl -s --unix-socket ${DOCKER_HOST#unix://} http://d/v9.99/version"),
		cli(f, "events-since-until", "docker create --name ev busybox", "docker events --since 0 --until $(( $(date +%s) + 1 )) --filter type=container --format '{{.Action}}'"),
		cli(f, "df-format", "docker system df --format '{{.Type}}'"),
		cli(f, "container-prune", "docker create --name pr busybox", "docker container prune -f | head -1"),
	}
}

func runnerScenarios() []Scenario {
	const f = "runner"
	return []Scenario{
		cli("runner", "github-job-container",
			"docker network create --label lbl github_network_1 >/dev/null",
			"docker create --name job --label lbl --workdir /__w/r/r --network github_network_1 -e CI=true --entrypoint tail busybox -f /dev/null >/dev/null",
			"docker start job",
			"docker ps --all --filter name=job --filter status=running --no-trunc --format '{{.Status}}' | cut -c1-2",
			"docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' job | grep -c ^PATH=",
			"docker exec job sh -c 'cat /etc/*release | grep ^ID' ; true",
			"docker exec -i --workdir /__w/r/r -e CI job sh -e -c 'pwd; echo $CI'",
			"docker rm --force job",
			"docker network rm github_network_1",
		),
		cli(f, "github-cleanup-by-label", "docker create --label lbl busybox >/dev/null", "docker ps --all --quiet --no-trunc --filter label=lbl | wc -l", "docker network prune --force --filter label=lbl"),
		cli(f, "github-version-check", "docker version --format '{{.Server.APIVersion}}' | cut -d. -f1"),
		withStdin(f, "gitlab-stdin-script", "echo step1\nexit 3\n", "docker create -i --name build busybox sh >/dev/null", "docker start -ai build", "docker inspect -f '{{.State.ExitCode}}' build"),
		cli(f, "gitlab-helper-reuse", "docker create --name helper busybox sh -c 'echo run' >/dev/null", "docker start -a helper", "docker start -a helper", "docker logs helper"),
		cli(f, "gitlab-stop-t0-rm", "docker run -d --name svc busybox sleep 300", "docker stop -t 0 svc", "docker rm -f -v svc"),
		cli(f, "service-health-wait", "docker run -d --name svc --health-cmd true --health-interval 200ms busybox sleep 300", "until [ \"$(docker inspect --format='{{if .Config.Healthcheck}}{{print .State.Health.Status}}{{end}}' svc)\" = healthy ]; do sleep 0.1; done; echo healthy"),
		cli(f, "container-action", "docker create --name act --workdir /github/workspace busybox sh -c 'pwd; echo done' >/dev/null", "docker start act", "docker logs --follow act", "docker wait act", "docker rm act"),
	}
}

func shellScenarios() []Scenario {
	const f = "shell"
	r := func(name, script string) Scenario {
		return cli(f, name, "docker run --rm busybox sh -c '"+script+"'")
	}
	return []Scenario{
		r("arith", "echo $((6*7))"),
		r("for-loop", "for i in 1 2 3; do printf %s $i; done; echo"),
		r("pipe-sort-uniq", "printf \"b\\na\\nb\\n\" | sort | uniq -c | tr -s \" \""),
		r("sed", "echo hello | sed s/l/L/g"),
		r("awk", "echo a b c | awk \"{print \\$2}\""),
		r("grep-count", "grep -c root /etc/passwd"),
		r("id-root", "id"),
		r("whoami", "whoami"),
		r("ls-bin-sh", "ls -l /bin/sh | cut -c1"),
		r("cat-group-head", "head -3 /etc/group"),
		r("test-file", "test -f /etc/passwd && echo yes"),
		r("mkdir-p", "mkdir -p /a/b/c && ls /a/b"),
		r("uname", "uname -s"),
		r("env-count-path", "env | grep -c ^PATH="),
		r("printf", "printf \"%05d|%s\\n\" 42 x"),
		r("wc-passwd", "wc -l < /etc/passwd"),
		r("trap-exit", "trap \"echo bye\" EXIT; echo hi"),
		r("command-v", "command -v ls"),
		r("pwd-default", "pwd"),
		r("umask", "umask"),
		r("ps-pid1", "ps -o pid,comm | head -2 | tail -1 | tr -s \" \""),
		r("hostname-len", "hostname | wc -c"),
		r("proc-self", "test -d /proc/self && echo proc"),
		r("dev-null", "echo x > /dev/null && echo ok"),
		r("shell-var-SHELL", "echo ${SHELL-unset}"),
		r("tty-not", "tty"),
		r("mount-proc", "mount | grep -c \" /proc \""),
		r("top-b", "top -b -n1 | head -1 | cut -c1-4"),
		r("date-epoch", "date +%s | wc -c"),
		r("seq", "seq 3"),
		// The shell's own echo and printf into a full tmpfs: what fits is
		// written, echo says why, both fail.
		cli(f, "echo-full-tmpfs", "docker run --rm --tmpfs /t:size=4k busybox sh -c 'exec 2>&1; head -c 4096 /dev/zero > /t/a; echo hi > /t/b; echo code=$?; echo -n hi >> /t/a; echo code=$?; wc -c < /t/a'"),
		cli(f, "printf-full-tmpfs", "docker run --rm --tmpfs /t:size=4k busybox sh -c 'exec 2>&1; head -c 4000 /dev/zero > /t/a; printf \"%0200d\\n\" 7 >> /t/a; echo code=$?; wc -c < /t/a'"),
	}
}
