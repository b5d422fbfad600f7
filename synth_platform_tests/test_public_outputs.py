"""The neighbouring-sources audit's comparison (lib/governance/public_outputs.py): every output classified."""

from synth_platform.lib.governance import public_outputs


def _outputs(rows: int, decision: str, digest: str = "abc") -> dict:
    return {
        "certificate": {
            "run_id": f"run-{rows}",
            "decision": decision,
            "release": {"rows": rows, "columns": [{"name": "age", "type": "BIGINT"}]},
            "digests": {"plan": digest},
        },
        "published": {
            "schema": {"release.people": [["age", "BIGINT"]]},
            "row_counts": {"release.people": rows},
        },
    }


def test_noisy_and_volatile_outputs_may_differ_public_ones_may_not():
    findings = public_outputs.compare([_outputs(100, "released"), _outputs(97, "blocked")])
    kinds = {f.path: (f.kind, f.identical) for f in findings}
    assert kinds["certificate.run_id"] == ("volatile", False)
    assert kinds["certificate.release.rows"] == ("dp", False)
    assert kinds["certificate.decision"] == ("dp", False)
    assert kinds["certificate.release.columns.0.name"] == ("public", True)
    assert not [f for f in findings if f.problem]


def test_a_public_output_that_moves_with_one_row_is_a_problem():
    findings = public_outputs.compare([_outputs(100, "released"), _outputs(100, "released", digest="abd")])
    problems = [f.path for f in findings if f.problem]
    assert problems == ["certificate.digests.plan"]
    assert public_outputs.summary(findings)["problems"][0]["path"] == "certificate.digests.plan"


def test_an_output_no_rule_covers_fails_the_audit():
    outputs = [{"certificate": {"dataset": "p"}, "elsewhere": {"train_rows": 41}}] * 2
    findings = public_outputs.compare(outputs)
    unclassified = [f for f in findings if f.kind == "unclassified"]
    assert [f.path for f in unclassified] == ["elsewhere.train_rows"] and unclassified[0].problem


def test_flatten_names_list_items_by_position():
    assert public_outputs.flatten({"a": [{"b": 1}, {"b": 2}], "c": {}}) == {"a.0.b": 1, "a.1.b": 2, "c": {}}
