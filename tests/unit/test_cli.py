"""The `sca` command's user-facing errors: one line, exit code 2, no traceback."""
from click.testing import CliRunner

from pipeline.cli import main


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def test_check_site_reports_field_errors(tmp_path):
    bad = tmp_path / "site.yaml"
    bad.write_text("site: {id: s}\ncameras:\n  - {id: c1, source: a.mp4, fps: zero}\n")
    result = run("check-site", str(bad))
    assert result.exit_code == 2
    assert "error:" in result.output and "cameras[0].fps" in result.output
    assert "Traceback" not in result.output


def test_check_site_accepts_the_demo_site():
    result = run("check-site")
    assert result.exit_code == 0 and "valid" in result.output


def test_ingest_sensors_refuses_missing_file_with_exit_2(tmp_path):
    result = run("ingest", "sensors", str(tmp_path / "absent.csv"), "--device", "d", "--type", "smoke")
    assert result.exit_code == 2 and "no such file" in result.output


def test_unreachable_kafka_is_one_line_with_the_fix(tmp_path):
    readings = tmp_path / "r.jsonl"
    readings.write_text('{"device": "smoke-1", "type": "smoke", "ts": 1800000000, "alarm": true}\n')
    result = run("ingest", "sensors", str(readings), "--quiet", env={"SCA_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert result.exit_code == 2
    assert "does not answer" in result.output and "sca infra up" in result.output


def test_topics_schemas_are_current():
    result = run("topics", "schemas")
    assert result.exit_code == 0, result.output
