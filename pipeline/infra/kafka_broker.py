"""Apache Kafka 4.x, single-node KRaft, from Maven Central jars, run with `java` on 127.0.0.1.

Why jars and not a tarball or Docker: the machines that run this have Maven Central but no
Docker engine; a `pom.xml` pins the broker version and `mvn dependency:copy-dependencies`
gives a classpath that `java -cp 'lib/*' kafka.Kafka` runs.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.infra.process import InfraError, pid_alive, port_open, read_pid, stop_pid, wait_until
from pipeline.settings import REPO_ROOT, Settings

POM = Path(__file__).with_name("kafka") / "pom.xml"
LOG4J_CONFIG = Path(__file__).with_name("kafka") / "log4j2.properties"
MARKER = "kafka.Kafka"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def jar_dir() -> Path:
    """Jars live outside the run directory so test runs with their own run dir reuse them."""
    return Path(os.environ.get("SCA_KAFKA_LIB", str(REPO_ROOT / ".sca" / "kafka-lib")))


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def require_tools(*names: str) -> None:
    hints = {
        "java": "a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)",
        "mvn": "Apache Maven (Debian: apt-get install maven)",
    }
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        raise InfraError("missing: " + "; ".join(f"{n} — install {hints[n]}" for n in missing))


def ensure_jars(progress=print) -> Path:
    """Resolve the broker's classpath with Maven once per pom version."""
    lib = jar_dir()
    stamp = lib / ".pom.sha256"
    if stamp.exists() and stamp.read_text() == _pom_digest() and any(lib.glob("kafka_2.13-*.jar")):
        return lib
    require_tools("mvn")
    progress(f"resolving Kafka jars from Maven Central into {lib} ...")
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir(parents=True)
    cmd = ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
           "-DincludeScope=runtime", f"-DoutputDirectory={lib}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise InfraError(f"mvn could not resolve the Kafka jars:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    stamp.write_text(_pom_digest())
    return lib


@dataclass(frozen=True)
class KafkaPaths:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "kafka" / "data"

    @property
    def config(self) -> Path:
        return self.root / "kafka" / "server.properties"

    @property
    def pid(self) -> Path:
        return self.root / "kafka.pid"

    @property
    def log(self) -> Path:
        return self.root / "logs" / "kafka.log"

    @property
    def stdout(self) -> Path:
        return self.root / "logs" / "kafka.stdout"


def server_properties(settings: Settings, data_dir: Path) -> str:
    port, cport = settings.kafka_port, settings.kafka_controller_port
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{cport}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir),
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "message.max.bytes": str(MAX_MESSAGE_BYTES),
        "num.network.threads": "2",
        "num.io.threads": "4",
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def _cluster_ready(bootstrap: str) -> bool:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, client_id="sca-infra-probe")
    try:
        admin.describe_cluster()
        return True
    finally:
        admin.close()


class KafkaBroker:
    """Start, stop and probe the local broker; data under `<run dir>/kafka/data` survives restarts."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.paths = KafkaPaths(settings.run_dir)

    def running_pid(self) -> int | None:
        pid = read_pid(self.paths.pid)
        return pid if pid_alive(pid, MARKER) else None

    def status(self) -> str:
        pid = self.running_pid()
        if not pid:
            return "stopped"
        try:
            ready = _cluster_ready(self.settings.kafka_bootstrap)
        except Exception:
            ready = False
        return f"running (pid {pid}, {self.settings.kafka_bootstrap}{'' if ready else ', not answering yet'})"

    def _java_cmd(self, lib: Path, main: str, *args: str) -> list[str]:
        # The short-lived storage tool starts faster with the C1 compiler only.
        jit = ["-XX:TieredStopAtLevel=1"] if main != "kafka.Kafka" else []
        return ["java", f"-Xmx{self.settings.kafka_heap}", "-XX:+UseSerialGC", *jit,
                f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", f"-Dsca.kafka.log={self.paths.log}",
                "-cp", f"{lib}/*", main, *args]

    def _format_storage(self, lib: Path) -> None:
        if (self.paths.data / "meta.properties").exists():
            return
        cluster_id = subprocess.run(self._java_cmd(lib, "kafka.tools.StorageTool", "random-uuid"),
                                    capture_output=True, text=True, check=True).stdout.split()[-1]
        result = subprocess.run(
            self._java_cmd(lib, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.paths.config),
                           "--ignore-formatted"), capture_output=True, text=True)
        if result.returncode != 0:
            raise InfraError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")

    def up(self, timeout_s: float = 90.0, progress=print) -> str:
        if self.running_pid():
            wait_until(lambda: _cluster_ready(self.settings.kafka_bootstrap), timeout_s, "Kafka", self.paths.log)
            return "already running"
        require_tools("java")
        for port in (self.settings.kafka_port, self.settings.kafka_controller_port):
            if port_open(port):
                raise InfraError(f"port {port} on 127.0.0.1 is taken by another process; stop it or set "
                                 "SCA_KAFKA_PORT / SCA_KAFKA_CONTROLLER_PORT")
        lib = ensure_jars(progress)
        self.paths.data.mkdir(parents=True, exist_ok=True)
        self.paths.log.parent.mkdir(parents=True, exist_ok=True)
        self.paths.config.write_text(server_properties(self.settings, self.paths.data))
        self._format_storage(lib)
        with open(self.paths.stdout, "ab") as out:
            proc = subprocess.Popen(self._java_cmd(lib, "kafka.Kafka", str(self.paths.config)),
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        self.paths.pid.write_text(str(proc.pid))
        try:
            wait_until(lambda: proc.poll() is None and _cluster_ready(self.settings.kafka_bootstrap),
                       timeout_s, f"Kafka on {self.settings.kafka_bootstrap}", self.paths.log)
        except InfraError:
            if proc.poll() is not None:
                raise InfraError(f"Kafka exited with code {proc.returncode}; see {self.paths.stdout} and {self.paths.log}")
            raise
        return f"started (pid {proc.pid})"

    def down(self) -> str:
        pid = self.running_pid()
        if not pid:
            self.paths.pid.unlink(missing_ok=True)
            return "not running"
        stop_pid(pid, MARKER, timeout_s=45.0)
        self.paths.pid.unlink(missing_ok=True)
        return "stopped"
