"""The Chalice app: three WebSocket handlers, the fan-out and push workers, and the web page's
HTTP routes (one REST API function), wiring only. The work is in chalicelib."""

from typing import Any

from chalice.app import Chalice, Response, SQSEvent, WebsocketEvent

from chalicelib import config, runtime, webpage
from chalicelib.wsevent import WsEvent

app = Chalice(app_name="chat-backend")
app.experimental_feature_flags.update(["WEBSOCKETS"])


@app.on_ws_connect()
def connect(event: WebsocketEvent) -> Response:
    status = runtime.service().connect(WsEvent.from_lambda(event.to_dict()))
    return Response(body="", status_code=status)


@app.on_ws_message()
def message(event: WebsocketEvent) -> None:
    runtime.service().message(WsEvent.from_lambda(event.to_dict()))


@app.on_ws_disconnect()
def disconnect(event: WebsocketEvent) -> None:
    runtime.service().disconnect(WsEvent.from_lambda(event.to_dict()))


@app.on_sqs_message(queue=config.fanout_queue_name(), batch_size=5)
def fanout(event: SQSEvent) -> dict[str, Any]:
    """Posts the shards of a large chat's fan-out; reports failed records for redelivery."""
    return runtime.fanout_worker().handle(event.to_dict())


@app.on_sqs_message(queue=config.push_queue_name(), batch_size=10)
def push(event: SQSEvent) -> dict[str, Any]:
    """Sends push notifications to offline members' devices; reports failed records for redelivery."""
    return runtime.push_worker().handle(event.to_dict())


def _reply(reply: webpage.Reply) -> Response:
    return Response(body=reply.body, status_code=reply.status, headers=dict(reply.headers))


@app.route("/")
def page() -> Response:
    """The web page (docs/deploy.md: the stage serves it)."""
    request = app.current_request
    return _reply(webpage.page((request.context.get("path") if request else None) or "/"))


@app.route("/config.json")
def page_config() -> Response:
    """What the page needs to know about the stage: how to sign in, where the WebSocket is."""
    return _reply(webpage.stage_config())


@app.route("/static/{name}")
def static_file(name: str) -> Response:
    return _reply(webpage.static_file(name))


@app.route("/static/js/{name}")
def static_script(name: str) -> Response:
    return _reply(webpage.static_file(f"js/{name}"))
