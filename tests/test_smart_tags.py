from modelop_spark.runtime.smart_tags import parse_smart_tags


def test_tags_name_the_next_function_whatever_its_name():
    source = """
import json

# modelop.init
def begin():
    pass

#modelop.score
@some_decorator
def action(datum):
    yield datum

# modelop.metrics
def evaluate(df):
    return {}
"""
    tags = parse_smart_tags(source)
    assert tags.functions == {"init": "begin", "score": "action", "metrics": "evaluate"}


def test_schema_tags_give_input_and_output_files():
    source = "# modelop.schema.0: input.avsc\n#modelop.schema.1:output.avsc\ndef f(x):\n    return x\n"
    assert parse_smart_tags(source).schemas == {0: "input.avsc", 1: "output.avsc"}


def test_a_tag_inside_a_string_or_after_code_is_not_a_tag():
    source = 'x = 1  # modelop.score\ndef f(r):\n    return r\n'
    assert parse_smart_tags(source).functions == {}
