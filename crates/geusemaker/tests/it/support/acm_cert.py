"""Requests an ACM certificate in moto (for HTTPS listeners); prints its ARN."""
import sys

import boto3

url, domain = sys.argv[1], sys.argv[2]
acm = boto3.client("acm", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
print(acm.request_certificate(DomainName=domain)["CertificateArn"])
