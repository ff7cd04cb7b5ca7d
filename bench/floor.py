"""The floor a scripted mode is measured against: import rich.console, one threaded loopback echo."""
import socket
import threading

import rich.console  # noqa: F401  (the import is the point: it is most of the floor's cost)

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()


def serve() -> None:
    conn, _ = listener.accept()
    with conn:
        conn.sendall(conn.recv(1024))


thread = threading.Thread(target=serve)
thread.start()
with socket.create_connection(listener.getsockname()) as client:
    client.sendall(b"hello\n")
    client.recv(1024)
thread.join()
listener.close()
