"""The community ``cambai`` 0.1.8 client's polling, copied faithfully (bugs included).

Source: the ``cambai`` 0.1.8 wheel on PyPI (``pip download cambai==0.1.8``), by Chandrashekhar
R (https://github.com/cr2007/cambai), file ``cambai/__init__.py``: ``CambAI.__init__``,
``CambAI.get_task_status`` and the polling loops of ``CambAI.dub`` and ``CambAI.tts`` (the
same loop is in ``transcribe``, ``translate`` and ``translate_tts``). The package declares no
licence (no License field in its metadata, no licence file in the wheel); this short excerpt
of its polling code is kept here, with attribution, only to test how the client behaves.

The only changes: the base URL comes in as an argument (the original hard-codes
``https://client.camb.ai/apis/``); the task paths are today's (``dub/{id}``, ``tts/{id}``,
``transcribe/{id}``, ``translate/{id}``, ``translated-tts/{id}``) instead of the old
underscore names (``end_to_end_dubbing/{id}``, ``create_transcription/{id}``, ...) that the
API answers 404 now; ``rich.print`` is the builtin ``print``; tqdm's progress bar around the
one-second sleeps is left out (the sleeps stay); the loops start no task (the harness made
one), and return the final status body instead of fetching the result with its run_id.

Known bugs, kept on purpose: ``sys.exit(1)`` on any answer but 200 (a 503 or a 429 ends the
whole process), no timeout on any request, no deadline (``while True``), every status but
SUCCESS and PENDING raises (an unknown status such as PROCESSING too), a fixed wait (30 s for
dubbing, 20 s for TTS) that ignores Retry-After, and one more poll after SUCCESS.
"""

# ruff: noqa: UP045
import math
import os
import sys
from time import sleep
from typing import Literal, Optional, TypedDict

import requests


class APIKeyMissingError(Exception):
    """Exception raised when the API Key is missing."""


class APIError(Exception):
    """Exception raised when an API error occurs. \n
    Mostly when a non-200 status code is returned."""


class TaskStatus(TypedDict):
    status: Literal["SUCCESS", "PENDING", "TIMEOUT", "ERROR", "PAYMENT_REQUIRED"]
    run_id: Optional[int]
    exception_reason: Optional[str]


class CambAI:
    def __init__(self, *, api_key: Optional[str] = None, base_url: str) -> None:
        # If no API key is provided, try to get it from the environment variables
        if api_key is None:
            api_key = os.getenv("CAMB_API_KEY")

        # If the API key is still None, raise an error
        if api_key is None:
            raise APIKeyMissingError(
                "All methods require a Camb AI API key. See "
                "https://studio.camb.ai "
                "for how to retrieve an API key from Camb AI"
            )

        # Set the base URL for the Camb AI API
        self.__camb_api_url: str = base_url.rstrip("/") + "/"

        # Create a new session for making requests
        self.__session: requests.Session = requests.Session()

        # Set the API key in the session headers
        self.__session.headers = {"x-api-key": api_key}

    def __create_api_endpoint(self, /, endpoint: str) -> str:
        # Append the provided endpoint to the base URL
        return self.__camb_api_url + endpoint

    def get_task_status(
        self,
        /,
        task: Literal["tts", "dubbing", "transcription", "translation", "translated_tts"],
        task_id: str,
    ) -> TaskStatus:
        # Initialize 'url' with an empty string
        url: str = ""

        # Determine the appropriate API endpoint based on the task type
        if task == "dubbing":
            url: str = self.__create_api_endpoint(f"dub/{task_id}")
        elif task == "tts":
            url: str = self.__create_api_endpoint(f"tts/{task_id}")
        elif task == "transcription":
            url: str = self.__create_api_endpoint(f"transcribe/{task_id}")
        elif task == "translation":
            url: str = self.__create_api_endpoint(f"translate/{task_id}")
        elif task == "translated_tts":
            url: str = self.__create_api_endpoint(f"translated-tts/{task_id}")
        else:
            raise ValueError(
                "Invalid task type. Must be one of 'dubbing', 'tts', 'transcription', "
                "'translation', or 'translated_tts'."
            )

        # Send a GET request to the API endpoint
        response: requests.Response = self.__session.get(url)

        # Check for a successful response (status code 200)
        if response.status_code != 200:
            # Print error details and exit if the request was unsuccessful
            print(f"Error: There was a {response.status_code} error with your GET request.")
            print(f"Response: {response.text if response.status_code == 500 else response.json()}")
            print("Kindly fix the issue and try again.")
            sys.exit(1)

        # Return the response data as a dictionary
        return response.json()

    def dub_loop(self, task_id: str, *, polling_interval: float = 30, debug: bool = False):
        """The polling loop of ``CambAI.dub``, after the task is started."""
        # Enter a loop to periodically check the status of the dubbing task
        while True:
            # Get the current status of the dubbing task
            task = self.get_task_status("dubbing", task_id)

            # If debug is True, print the task status and run ID
            if debug:
                print(f"Task Status: {task['status']}, Run ID: {task['run_id']}")

            # If the task status is "SUCCESS", break the loop
            if task["status"] == "SUCCESS":
                break

            # If the task status is neither "SUCCESS" nor "PENDING", raise an APIError
            if task["status"] not in ["SUCCESS", "PENDING"]:
                raise APIError(f"Dubbing Issue: {task['status']} for Run ID: {task['run_id']}")

            # Wait for the specified polling interval before the next status check
            if debug:
                print(f"Sleeping for {polling_interval} seconds")

            for _ in range(math.ceil(polling_interval)):
                sleep(1)

        # Get the final status of the dubbing task
        task = self.get_task_status("dubbing", task_id)

        # If the run ID is None, raise an APIError
        if task["run_id"] is None:
            raise APIError("Run ID is None")

        print(f"Dubbing Task {task['run_id']} Completed!")
        return task

    def tts_loop(self, task_id: str, *, polling_interval: float = 20, debug: bool = False):
        """The polling loop of ``CambAI.tts``, after the task is started."""
        # Continuously check the status of the TTS task
        while True:
            # Get the current status of the TTS task
            task = self.get_task_status("tts", task_id)

            # Print debug information if debug is True
            if debug:
                print(f"TTS Status: {task['status']}, Run ID: {task['run_id']}")

            # Break the loop if the task status is "SUCCESS"
            if task["status"] == "SUCCESS":
                break

            # Raise an error if the task status is neither "SUCCESS" nor "PENDING"
            if task["status"] not in ["SUCCESS", "PENDING"]:
                raise APIError(f"Issue with TTS: {task['status']} for Run ID: {task['run_id']}")

            # Wait for the specified polling interval before the next status check
            if debug:
                print(f"Sleeping for {polling_interval} seconds")

            for _ in range(math.ceil(polling_interval)):
                sleep(1)

        # Get the status of the TTS task
        task = self.get_task_status(task="tts", task_id=task_id)

        # Raise an error if the run ID is None
        if task["run_id"] is None:
            raise APIError("Run ID is None")
        return task


def poll(base_url, api_key, endpoint, task_id):
    """``CambAI(api_key=...).dub(...)`` (endpoint ``dub``) or ``.tts(...)`` (``tts``), from the
    moment the task has started."""
    client = CambAI(api_key=api_key, base_url=base_url)
    if endpoint == "dub":
        return client.dub_loop(task_id)
    if endpoint == "tts":
        return client.tts_loop(task_id)
    raise ValueError(f"cambai polls dub or tts tasks here, not {endpoint!r}")


poll.families = ("dub", "tts")  # what the conformance harness runs it over
