from ziti_aio.common import errors, ids
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



def test_ids_skip_the_bytes_that_would_bias_the_alphabet(monkeypatch):
    draws = iter([bytes([248, 255, 0, 61, 62, 247] + [1] * 14)])
    monkeypatch.setattr(ids.secrets, "token_bytes", lambda n: next(draws))
    assert ids.new_id() == "0Z0Z111111"  # 248 and 255 dropped; 62 and 247 wrap to the ends
