from ziti_aio.common import errors
from ziti_aio.common.ids import new_id


def test_every_error_names_an_openziti_code_and_an_http_status():
    classes = [errors.ZitiError]
    seen = []
    while classes:
        cls = classes.pop()
        seen.append(cls)
        classes.extend(cls.__subclasses__())
        assert cls.code and cls.code.isupper()
        assert 400 <= cls.http_status <= 599
    assert errors.NotFoundError in seen and errors.InvalidFilter in seen


def test_validation_error_carries_field_cause():
    exc = errors.ValidationError("must be a string", field="name", value=3)
    assert exc.cause == {"field": "name", "reason": "must be a string", "value": 3}
    assert exc.http_status == 400


def test_ids_are_distinct_and_url_safe():
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.isalnum() and len(i) == 10 for i in ids)
