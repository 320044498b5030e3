"""Finding an app's HTTP function from what a test names: its function name, its route template, or a path."""

from __future__ import annotations

import pytest

from durabletask_testing.functions.app import AppError, AppFunction, AppFunctions, load_app


def _http(name: str, route: str | None) -> AppFunction:
    return AppFunction(name=name, kind="http", call=lambda req: None, trigger_parameter="req", route=route)


FUNCTIONS = AppFunctions([
    _http("place_order", "orders"),
    _http("approve_order", "orders/{instance_id}/approve"),
    _http("status", None),
])


def test_a_function_name_or_a_route_template_gives_no_route_parameters() -> None:
    assert FUNCTIONS.http_target("approve_order") == (FUNCTIONS.functions[1], {})
    assert FUNCTIONS.http_target("orders/{instance_id}/approve") == (FUNCTIONS.functions[1], {})
    assert FUNCTIONS.http_target("status") == (FUNCTIONS.functions[2], {})


def test_a_path_the_route_matches_gives_its_route_parameters() -> None:
    function, params = FUNCTIONS.http_target("orders/abc123/approve")

    assert function.name == "approve_order"
    assert params == {"instance_id": "abc123"}


def test_a_name_nothing_matches_names_the_functions_and_their_routes() -> None:
    with pytest.raises(AppError, match=r"nor one whose route matches it .*approve_order \(orders/\{instance_id\}"
                                       r"/approve\), place_order \(orders\), status \(status\)"):
        FUNCTIONS.http_target("orders/abc123/reject")


def test_an_app_module_off_sys_path_is_named_with_the_way_to_put_it_there() -> None:
    with pytest.raises(AppError, match=r"cannot import the functions app module 'no_such_function_app'.*"
                                       r"'pythonpath = \.'"):
        load_app("no_such_function_app:app")


def test_a_missing_module_inside_the_app_is_named_without_that_hint() -> None:
    with pytest.raises(AppError) as raised:
        load_app("durabletask_testing.no_such_module:app")

    assert "pythonpath" not in str(raised.value)
