"""CAMB's documented project-setup-status poller, copied faithfully (bugs included).

Source: /work/shared/seeds/004_8f33b0dc5becfc7e.txt. The only changes: the base URL and the
API key come in as arguments (the page hard-codes https://client.camb.ai/apis and a global
``headers``), and the usage lines at the bottom of the page are left out. Known bugs, kept on
purpose: it returns None on any HTTP error, transient or not (a 503 loses the task), and polls
for ever on a final status it does not list (FAILED, TIMEOUT, PAYMENT_REQUIRED).
"""

import json  # noqa: F401 - imported by the original
import time

import requests


def check_project_setup_status(task_id, *, base_url, api_key):
    """
    Polls the status endpoint to track a project setup task's progress.
    Continues checking until the task reaches a terminal state.
    """
    # Your API authentication
    headers = {
        "x-api-key": api_key,  # Replace with your actual API key
        "Content-Type": "application/json",
    }
    if not task_id:
        print("Error: No task ID provided")
        return None

    terminal_states = ["SUCCESS", "ERROR"]
    current_status = None

    while current_status not in terminal_states:
        try:
            # Make the status request
            response = requests.get(f"{base_url}/project-setup/{task_id}", headers=headers)

            # Verify the request was successful
            response.raise_for_status()

            # Extract the status information
            status_data = response.json()
            current_status = status_data.get("status")

            # Display current progress information
            print(f"Status: {current_status}")

            if current_status == "PENDING":
                time.sleep(15)
                continue

            # Handle completed state
            if current_status == "SUCCESS":
                print("Project setup completed successfully!")
                return status_data

            # Handle failed state
            if current_status == "ERROR":
                print(f"Project setup task failed: {status_data.get('message')}")
                return status_data

            # Wait before next check to avoid excessive requests
            time.sleep(30)  # Poll every 30 seconds

        except requests.exceptions.RequestException as e:
            print(f"Error checking project setup status: {e}")
            if hasattr(e, "response") and e.response is not None:
                print(f"Response content: {e.response.text}")
            return None

    return None


def poll(base_url, api_key, endpoint, task_id):
    """The page's own usage: ``check_project_setup_status(task_id)``."""
    return check_project_setup_status(task_id, base_url=base_url, api_key=api_key)
