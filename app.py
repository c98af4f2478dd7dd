"""The Chalice app: three WebSocket handlers, wiring only. The work is in chalicelib."""

from chalice.app import Chalice, Response, WebsocketEvent

from chalicelib import runtime
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
