"""Seeds moto with one of each kind `discover` lists; prints their ids as JSON."""
import json
import sys

import boto3

url, tag = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
ec2 = boto3.client("ec2", **kw)
vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": tag}])
a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
ec2.modify_subnet_attribute(SubnetId=a, MapPublicIpOnLaunch={"Value": True})
sg = ec2.create_security_group(GroupName=f"{tag}-sg", Description="d", VpcId=vpc)["GroupId"]
ec2.create_key_pair(KeyName=f"{tag}-key")
lb = boto3.client("elbv2", **kw).create_load_balancer(Name=f"{tag}-lb"[:32], Subnets=[a, b], SecurityGroups=[sg])["LoadBalancers"][0]["LoadBalancerArn"]
fs = boto3.client("efs", **kw).create_file_system(CreationToken=tag, Tags=[{"Key": "Name", "Value": tag}])["FileSystemId"]
cf = boto3.client("cloudfront", **kw).create_distribution(DistributionConfig={
    "CallerReference": tag,
    "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "example.org", "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
    "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https", "MinTTL": 0,
                             "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}},
    "Comment": tag, "Enabled": True,
})["Distribution"]["Id"]
print(json.dumps({"vpc": vpc, "subnet": a, "sg": sg, "lb": lb, "fs": fs, "cf": cf}))
