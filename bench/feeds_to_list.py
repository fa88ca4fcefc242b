#!/usr/bin/env python3
"""Writes the prefixes of the cloud provider feeds as range-list lines,
"prefix provider", deduplicated (first provider wins), for benchmarks.

usage: feeds_to_list.py FEEDS_DIR > ranges.txt
"""
import ipaddress
import json
import os
import sys


def aws(path):
    feed = json.load(open(path))
    for p in feed["prefixes"]:
        yield p["ip_prefix"]
    for p in feed["ipv6_prefixes"]:
        yield p["ipv6_prefix"]


def azure(path):
    for tag in json.load(open(path))["values"]:
        yield from tag["properties"]["addressPrefixes"]


def gcp(path):
    for p in json.load(open(path))["prefixes"]:
        yield p.get("ipv4Prefix") or p["ipv6Prefix"]


def oracle(path):
    for region in json.load(open(path))["regions"]:
        for cidr in region["cidrs"]:
            yield cidr["cidr"]


FEEDS = [
    ("aws", "aws-ip-ranges.json", aws),
    ("azure", "microsoft-azure-ip-ranges.json", azure),
    ("gcp", "google-cloud-ip-ranges.json", gcp),
    ("oracle", "oracle-cloud-ip-ranges.json", oracle),
]


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) == 2 else 2
    seen = set()
    for provider, name, read in FEEDS:
        path = os.path.join(sys.argv[1], name)
        for text in read(path):
            net = ipaddress.ip_network(text, strict=False)
            if net in seen:
                continue
            seen.add(net)
            print(f"{net} {provider}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
