"""Copies a Cloud Storage bucket (or fake-gcs-server's) into a local folder through the JSON API, so the audit reads what any client could read.

Standard library only (urllib): no Google client, nothing shared with hourglass. Listing follows every
nextPageToken (small pages on purpose, so a paging bug in the server or here shows up as a missing object
in the audit, never as a silent pass), and each object's size is checked against its listing.

Usage (as a module): mirror(endpoint, bucket, into_dir) -> number of objects copied.
"""
import json
import os
import urllib.parse
import urllib.request

PAGE_SIZE = 500


def _get(url, timeout=60):
    with urllib.request.urlopen(url, timeout=timeout) as res:
        return res.read()


def list_objects(endpoint, bucket, prefix=""):
    """Every object of the bucket under prefix, as the JSON API lists them, page by page."""
    items = []
    token = None
    while True:
        query = {"maxResults": str(PAGE_SIZE)}
        if prefix:
            query["prefix"] = prefix
        if token:
            query["pageToken"] = token
        url = f"{endpoint}/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o?{urllib.parse.urlencode(query)}"
        page = json.loads(_get(url))
        items.extend(page.get("items", []))
        token = page.get("nextPageToken")
        if not token:
            return items


def mirror(endpoint, bucket, into):
    """Downloads every object into `into`/<object name>; returns the count. Fails loudly on any short read."""
    objects = list_objects(endpoint, bucket)
    for obj in objects:
        name = obj["name"]
        if name.endswith("/") or ".." in name.split("/"):
            raise ValueError(f"unexpected object name {name!r}")
        url = f"{endpoint}/download/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o/{urllib.parse.quote(name, safe='')}?alt=media"
        data = _get(url)
        if len(data) != int(obj.get("size", len(data))):
            raise IOError(f"{name}: downloaded {len(data)} bytes, listed as {obj.get('size')}")
        path = os.path.join(into, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return len(objects)
