"""CAMB's documented story-status poller, copied faithfully (bugs included).

Source: /work/shared/seeds/000_dbde3b1f41258276.txt ("Let's explore how to effectively monitor
your generation task using Python"). The only changes: the base URL and the API key come in
as arguments (the page hard-codes https://client.camb.ai/apis and a global ``headers``), and
the usage lines at the bottom of the page are left out. Known bugs, kept on purpose: it reads
the undefined name ``current_substatus`` on the first status change (NameError), retries
every RequestException (404 included) for ever, and treats only SUCCESS and FAILED as final.
"""

# ruff: noqa: F821, F841
import json  # noqa: F401 - imported by the original
import time
from datetime import datetime

import requests


def check_story_status(task_id, polling_interval=5, *, base_url, api_key):
    """
    Monitors the status of a story generation task until completion.

    Parameters:
    - task_id: The unique identifier for your generation task
    - polling_interval: How frequently to check status (in seconds)

    Returns:
    - The final status response upon completion or failure
    """
    # Your API authentication
    headers = {
        "x-api-key": api_key,  # Replace with your actual API key
        "Content-Type": "application/json",
    }
    print(f"Beginning status monitoring for task: {task_id}")

    # Initialize tracking variables
    start_time = datetime.now()
    last_status = None

    while True:
        try:
            # Request the current status
            response = requests.get(f"{base_url}/story/{task_id}", headers=headers)

            # Verify the request was successful
            response.raise_for_status()

            # Parse the status information
            status_data = response.json()
            current_status = status_data.get("status")

            # Track status changes for informative updates
            if current_status != last_status:
                elapsed_time = (datetime.now() - start_time).total_seconds()
                print(f"[{elapsed_time:.1f}s] Status: {current_status}")

                # Update our tracking variables
                last_status = current_status
                last_substatus = current_substatus

            # Check if the process has completed or failed
            if current_status == "SUCCESS":
                print("\n✓ Sound generation completed successfully!")
                print(f"Run ID : {status_data.get('run_id')}")
                return status_data
            elif current_status == "FAILED":
                print(f"\n✗ Sound generation failed: {status_data.get('message', 'Unknown error')}")
                return status_data

            # Wait before checking again
            time.sleep(polling_interval)

        except requests.exceptions.RequestException as e:
            print(f"Error checking generation status: {e}")
            if hasattr(e, "response") and e.response is not None:
                print(f"Response content: {e.response.text}")

            # Brief pause before retry after error
            time.sleep(polling_interval)


def poll(base_url, api_key, endpoint, task_id):
    """The page's own usage: ``check_story_status(task_id, polling_interval=3)``."""
    return check_story_status(task_id, polling_interval=3, base_url=base_url, api_key=api_key)
