"""The textbook TCP client: sends one typed sentence, prints the server's answer.

    python client.py localhost 12000
"""
import sys
from socket import AF_INET, SOCK_STREAM, socket

serverName = sys.argv[1] if len(sys.argv) > 1 else "localhost"
serverPort = int(sys.argv[2]) if len(sys.argv) > 2 else 12000
clientSocket = socket(AF_INET, SOCK_STREAM)
clientSocket.connect((serverName, serverPort))
sentence = input("Input lowercase sentence: ")
clientSocket.send(sentence.encode())
modifiedSentence = clientSocket.recv(1024)
print("From Server:", modifiedSentence.decode())
clientSocket.close()
