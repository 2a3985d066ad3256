"""Makes the caller's account an AWS Organization (once), adds a member account, and creates a
VPC tagged TAG in it through AssumeRole; prints {"account": ID, "vpc": ID} as JSON."""
import json
import sys

import boto3

url, tag = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
org = boto3.client("organizations", **kw)
try:
    org.create_organization(FeatureSet="ALL")
except org.exceptions.AlreadyInOrganizationException:
    pass
account = org.create_account(Email=f"{tag}@example.org", AccountName=tag)["CreateAccountStatus"]["AccountId"]
creds = boto3.client("sts", **kw).assume_role(
    RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="seed"
)["Credentials"]
member = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
              aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
vpc = boto3.client("ec2", **member).create_vpc(
    CidrBlock="10.98.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": tag}]}]
)["Vpc"]["VpcId"]
print(json.dumps({"account": account, "vpc": vpc}))
