"""Fuzzing the controller model's input languages: ZitiQL filters, config data and config-type schemas."""

from __future__ import annotations

from hypothesis import given

from .model_targets import (
    check_config_data,
    check_config_schema,
    check_query,
    config_data_cases,
    config_schema_cases,
    query_cases,
)
from .targets import bounded


@bounded(300)
@given(query_cases())
def test_filters_over_random_entities_raise_only_invalid_filter(case):
    check_query(case)


@bounded(300)
@given(config_data_cases())
def test_config_data_shaped_by_each_schema_raises_only_validation_error(case):
    check_config_data(case)


@bounded(200)
@given(config_schema_cases())
def test_random_config_type_schemas_raise_only_validation_error(case):
    check_config_schema(case)
