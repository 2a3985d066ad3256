"""Seeds moto with resources of every type the inventory collects, in one region (global types
once), each named or tagged with TAG; prints {type: [ids]} as JSON.

Usage: seed_inventory.py URL REGION TAG [--global] [--params N]
"""
import json
import sys

import boto3

url, region, tag = sys.argv[1], sys.argv[2], sys.argv[3]
want_global = "--global" in sys.argv
params = int(sys.argv[sys.argv.index("--params") + 1]) if "--params" in sys.argv else 3
kw = dict(endpoint_url=url, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")
tags = [{"Key": "Name", "Value": tag}, {"Key": "inv", "Value": tag}]
out = {}


def spec(kind):
    return [{"ResourceType": kind, "Tags": tags}]


ec2 = boto3.client("ec2", **kw)
ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16", TagSpecifications=spec("vpc"))["Vpc"]["VpcId"]
zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
sub_a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24", AvailabilityZone=zones[0], TagSpecifications=spec("subnet"))["Subnet"]["SubnetId"]
sub_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.2.0/24", AvailabilityZone=zones[1])["Subnet"]["SubnetId"]
sg = ec2.create_security_group(GroupName=f"{tag}-sg", Description="inventory test", VpcId=vpc, TagSpecifications=spec("security-group"))["GroupId"]
inst = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=sub_a, TagSpecifications=spec("instance"))["Instances"][0]["InstanceId"]
vol = ec2.create_volume(Size=1, AvailabilityZone=zones[0], TagSpecifications=spec("volume"))["VolumeId"]
snap = ec2.create_snapshot(VolumeId=vol, TagSpecifications=spec("snapshot"))["SnapshotId"]
image = ec2.create_image(InstanceId=inst, Name=f"{tag}-image", TagSpecifications=spec("image"))["ImageId"]
eip = ec2.allocate_address(Domain="vpc", TagSpecifications=spec("elastic-ip"))["AllocationId"]
eni = ec2.create_network_interface(SubnetId=sub_a, TagSpecifications=spec("network-interface"))["NetworkInterface"]["NetworkInterfaceId"]
key = ec2.create_key_pair(KeyName=f"{tag}-key", TagSpecifications=spec("key-pair"))["KeyPairId"]
lt = ec2.create_launch_template(LaunchTemplateName=f"{tag}-lt", LaunchTemplateData={"ImageId": ami}, TagSpecifications=spec("launch-template"))["LaunchTemplate"]["LaunchTemplateId"]
rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=spec("route-table"))["RouteTable"]["RouteTableId"]
igw = ec2.create_internet_gateway(TagSpecifications=spec("internet-gateway"))["InternetGateway"]["InternetGatewayId"]
ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
nat = ec2.create_nat_gateway(SubnetId=sub_a, AllocationId=eip, TagSpecifications=spec("natgateway"))["NatGateway"]["NatGatewayId"]
vpce = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{region}.s3", RouteTableIds=[rt], TagSpecifications=spec("vpc-endpoint"))["VpcEndpoint"]["VpcEndpointId"]
acl = ec2.create_network_acl(VpcId=vpc, TagSpecifications=spec("network-acl"))["NetworkAcl"]["NetworkAclId"]
dhcp = ec2.create_dhcp_options(DhcpConfigurations=[{"Key": "domain-name", "Values": [f"{tag}.internal"]}], TagSpecifications=spec("dhcp-options"))["DhcpOptions"]["DhcpOptionsId"]
out.update({
    "ec2:vpc": [vpc], "ec2:subnet": [sub_a], "ec2:security-group": [sg], "ec2:instance": [inst],
    "ec2:volume": [vol], "ec2:snapshot": [snap], "ec2:image": [image], "ec2:elastic-ip": [eip],
    "ec2:network-interface": [eni], "ec2:key-pair": [key], "ec2:launch-template": [lt],
    "ec2:route-table": [rt], "ec2:internet-gateway": [igw], "ec2:nat-gateway": [nat],
    "ec2:vpc-endpoint": [vpce], "ec2:network-acl": [acl], "ec2:dhcp-options": [dhcp],
})
# moto ignores TagSpecifications on some creates (DHCP options, …): tag everything again.
for kind, ids in out.items():
    if kind not in ("ec2:key-pair",):
        ec2.create_tags(Resources=ids, Tags=tags)
elb = boto3.client("elbv2", **kw)
lb = elb.create_load_balancer(Name=f"{tag}-lb"[:32], Subnets=[sub_a, sub_b], SecurityGroups=[sg], Tags=tags)["LoadBalancers"][0]["LoadBalancerArn"]
tg = elb.create_target_group(Name=f"{tag}-tg"[:32], Protocol="HTTP", Port=80, VpcId=vpc, Tags=tags)["TargetGroups"][0]["TargetGroupArn"]
out["elbv2:load-balancer"] = [lb]
out["elbv2:target-group"] = [tg]
fs = boto3.client("efs", **kw).create_file_system(CreationToken=f"{tag}-{region}", Tags=tags)["FileSystemId"]
out["efs:file-system"] = [fs]
ssm = boto3.client("ssm", **kw)
out["ssm:parameter"] = []
for i in range(params):
    name = f"/{tag}/p{i:03d}"
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "inv", "Value": tag}])
    out["ssm:parameter"].append(name)
if want_global:
    iam = boto3.client("iam", **kw)
    itags = [{"Key": "inv", "Value": tag}]
    out["iam:role"] = [iam.create_role(RoleName=f"{tag}-role", AssumeRolePolicyDocument="{}", Tags=itags)["Role"]["RoleId"]]
    out["iam:user"] = [iam.create_user(UserName=f"{tag}-user", Tags=itags)["User"]["UserId"]]
    out["iam:group"] = [iam.create_group(GroupName=f"{tag}-group")["Group"]["GroupId"]]
    out["iam:policy"] = [iam.create_policy(PolicyName=f"{tag}-policy", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}), Tags=itags)["Policy"]["PolicyId"]]
    out["iam:instance-profile"] = [iam.create_instance_profile(InstanceProfileName=f"{tag}-profile", Tags=itags)["InstanceProfile"]["InstanceProfileId"]]
    out["cloudfront:distribution"] = [boto3.client("cloudfront", **kw).create_distribution(DistributionConfig={
        "CallerReference": tag,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "example.org", "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https"},
        "Comment": tag, "Enabled": True,
    })["Distribution"]["Id"]]
print(json.dumps(out))
