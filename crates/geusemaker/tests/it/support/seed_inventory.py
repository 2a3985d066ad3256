"""Seeds moto with resources of every type the inventory collects, in one region (global types
once), each named or tagged with TAG; prints {type: [ids]} as JSON.

Usage: seed_inventory.py URL REGION TAG [--global] [--params N] [--assume ACCOUNT]

--assume seeds the organization member ACCOUNT instead, entered through AssumeRole into
OrganizationAccountAccessRole, as the scan enters it.
"""
import json
import sys

import boto3

url, region, tag = sys.argv[1], sys.argv[2], sys.argv[3]
want_global = "--global" in sys.argv
params = int(sys.argv[sys.argv.index("--params") + 1]) if "--params" in sys.argv else 3
kw = dict(endpoint_url=url, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")
if "--assume" in sys.argv:
    member = sys.argv[sys.argv.index("--assume") + 1]
    creds = boto3.client("sts", **kw).assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="seed")["Credentials"]
    kw = dict(endpoint_url=url, region_name=region, aws_access_key_id=creds["AccessKeyId"],
              aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
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
# The other services, one of each (tagged where the create call takes tags).
ktags = [{"Key": "inv", "Value": tag}]
elb1 = boto3.client("elb", **kw)
elb1.create_load_balancer(LoadBalancerName=f"{tag}-clb"[:32], Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}], AvailabilityZones=zones[:1], Tags=ktags)
out["elb:load-balancer"] = [f"{tag}-clb"[:32]]
asg = boto3.client("autoscaling", **kw)
asg.create_launch_configuration(LaunchConfigurationName=f"{tag}-lc", ImageId=ami, InstanceType="t3.micro")
asg.create_auto_scaling_group(AutoScalingGroupName=f"{tag}-asg", LaunchConfigurationName=f"{tag}-lc", MinSize=0, MaxSize=1, DesiredCapacity=0, VPCZoneIdentifier=sub_a, Tags=[{"Key": "inv", "Value": tag, "PropagateAtLaunch": False}])
out["autoscaling:launch-configuration"] = [f"{tag}-lc"]
out["autoscaling:group"] = [f"{tag}-asg"]
iam_for_lambda = boto3.client("iam", **kw)
try:
    role_arn = iam_for_lambda.create_role(RoleName=f"{tag}-{region}-fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
except iam_for_lambda.exceptions.EntityAlreadyExistsException:
    role_arn = iam_for_lambda.get_role(RoleName=f"{tag}-{region}-fn")["Role"]["Arn"]
import io, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("index.py", "def handler(e, c):\n    return 1\n")
lam = boto3.client("lambda", **kw)
lam.create_function(FunctionName=f"{tag}-fn", Runtime="python3.11", Role=role_arn, Handler="index.handler", Code={"ZipFile": buf.getvalue()}, Tags={"inv": tag})
out["lambda:function"] = [f"{tag}-fn"]
ecs = boto3.client("ecs", **kw)
cluster = ecs.create_cluster(clusterName=f"{tag}-cluster", tags=[{"key": "inv", "value": tag}])["cluster"]["clusterArn"]
td = ecs.register_task_definition(family=f"{tag}-td", cpu="256", memory="512", containerDefinitions=[{"name": "app", "image": "nginx:1.27", "memory": 128}])["taskDefinition"]["taskDefinitionArn"]
svc = ecs.create_service(cluster=cluster, serviceName=f"{tag}-svc", taskDefinition=td, desiredCount=0, tags=[{"key": "inv", "value": tag}])["service"]["serviceArn"]
ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=json.dumps({"instanceId": inst, "region": region, "availabilityZone": zones[0], "accountId": "123456789012", "imageId": ami, "instanceType": "t3.micro"}))
task = ecs.run_task(cluster=cluster, taskDefinition=td, count=1, tags=[{"key": "inv", "value": tag}])["tasks"][0]["taskArn"]
out["ecs:cluster"] = [cluster]
out["ecs:task-definition"] = [td]
out["ecs:service"] = [svc]
out["ecs:task"] = [task]
eks = boto3.client("eks", **kw)
eks.create_cluster(name=f"{tag}-eks", roleArn=role_arn, resourcesVpcConfig={"subnetIds": [sub_a, sub_b]}, tags={"inv": tag})
out["eks:cluster"] = [f"{tag}-eks"]
boto3.client("ecr", **kw).create_repository(repositoryName=f"{tag}-repo", tags=ktags)
out["ecr:repository"] = [f"{tag}-repo"]
rds = boto3.client("rds", **kw)
rds.create_db_instance(DBInstanceIdentifier=f"{tag}-db", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="u", MasterUserPassword="password123", AllocatedStorage=20, Tags=ktags)
rds.create_db_cluster(DBClusterIdentifier=f"{tag}-aurora", Engine="aurora-postgresql", MasterUsername="u", MasterUserPassword="password123", Tags=ktags)
# moto 5.2.1 refuses engine `docdb` in CreateDBCluster (its enum lacks it), through the rds and
# the docdb clients alike: DocumentDB clusters cannot be seeded (docs/emulator-gaps.md).
rds.create_db_snapshot(DBSnapshotIdentifier=f"{tag}-snap", DBInstanceIdentifier=f"{tag}-db", Tags=ktags)
out["rds:db-instance"] = [f"{tag}-db"]
out["rds:db-cluster"] = [f"{tag}-aurora"]
out["rds:db-snapshot"] = [f"{tag}-snap"]
boto3.client("dynamodb", **kw).create_table(TableName=f"{tag}-table", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST", Tags=ktags)
out["dynamodb:table"] = [f"{tag}-table"]
boto3.client("elasticache", **kw).create_cache_cluster(CacheClusterId=f"{tag}-cache"[:40], Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1)
out["elasticache:cluster"] = [f"{tag}-cache"[:40]]
boto3.client("redshift", **kw).create_cluster(ClusterIdentifier=f"{tag}-rs", NodeType="dc2.large", MasterUsername="u", MasterUserPassword="Password123", ClusterType="single-node", Tags=ktags)
out["redshift:cluster"] = [f"{tag}-rs"]
kms = boto3.client("kms", **kw)
out["kms:key"] = [kms.create_key(Description=f"{tag} key", Tags=[{"TagKey": "inv", "TagValue": tag}])["KeyMetadata"]["KeyId"]]
out["secretsmanager:secret"] = [boto3.client("secretsmanager", **kw).create_secret(Name=f"{tag}-secret", SecretString="s", Tags=ktags)["ARN"]]
out["acm:certificate"] = [boto3.client("acm", **kw).request_certificate(DomainName=f"{tag}.example.org", Tags=ktags)["CertificateArn"]]
out["sns:topic"] = [boto3.client("sns", **kw).create_topic(Name=f"{tag}-topic", Tags=[{"Key": "inv", "Value": tag}])["TopicArn"]]
boto3.client("sqs", **kw).create_queue(QueueName=f"{tag}-queue", tags={"inv": tag})
out["sqs:queue"] = [f"{tag}-queue"]
kinesis = boto3.client("kinesis", **kw)
kinesis.create_stream(StreamName=f"{tag}-stream", ShardCount=1)
kinesis.add_tags_to_stream(StreamName=f"{tag}-stream", Tags={"inv": tag})
out["kinesis:stream"] = [f"{tag}-stream"]
out["states:state-machine"] = [boto3.client("stepfunctions", **kw).create_state_machine(name=f"{tag}-sm", definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}), roleArn=role_arn, tags=[{"key": "inv", "value": tag}])["stateMachineArn"]]
out["events:rule"] = [boto3.client("events", **kw).put_rule(Name=f"{tag}-rule", ScheduleExpression="rate(1 day)", Tags=ktags)["RuleArn"]]
boto3.client("cloudwatch", **kw).put_metric_alarm(AlarmName=f"{tag}-alarm", MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=90, ComparisonOperator="GreaterThanThreshold", Tags=ktags)
out["cloudwatch:alarm"] = [f"{tag}-alarm"]
boto3.client("logs", **kw).create_log_group(logGroupName=f"/{tag}/logs", tags={"inv": tag})
out["logs:log-group"] = [f"/{tag}/logs"]
cfn = boto3.client("cloudformation", **kw)
out["cloudformation:stack"] = [cfn.create_stack(StackName=f"{tag}-stack", TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}), Tags=ktags)["StackId"]]
out["apigateway:rest-api"] = [boto3.client("apigateway", **kw).create_rest_api(name=f"{tag}-rest", tags={"inv": tag})["id"]]
out["apigateway:http-api"] = [boto3.client("apigatewayv2", **kw).create_api(Name=f"{tag}-http", ProtocolType="HTTP", Tags={"inv": tag})["ApiId"]]
if want_global:
    s3 = boto3.client("s3", **kw)
    s3.create_bucket(Bucket=f"{tag}-bucket")
    s3.put_bucket_tagging(Bucket=f"{tag}-bucket", Tagging={"TagSet": [{"Key": "inv", "Value": tag}]})
    out["s3:bucket"] = [f"{tag}-bucket"]
    r53 = boto3.client("route53", **kw)
    zone = r53.create_hosted_zone(Name=f"{tag}.example.org", CallerReference=tag)["HostedZone"]["Id"].split("/")[-1]
    r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone, AddTags=[{"Key": "inv", "Value": tag}])
    out["route53:hosted-zone"] = [zone]
    iam = boto3.client("iam", **kw)
    itags = [{"Key": "inv", "Value": tag}]
    out["iam:role"] = [iam.create_role(RoleName=f"{tag}-role", AssumeRolePolicyDocument="{}", Description=f"{tag} role", Tags=itags)["Role"]["RoleId"]]
    out["iam:user"] = [iam.create_user(UserName=f"{tag}-user", Tags=itags)["User"]["UserId"]]
    out["iam:group"] = [iam.create_group(GroupName=f"{tag}-group")["Group"]["GroupId"]]
    policy = iam.create_policy(PolicyName=f"{tag}-policy", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}), Tags=itags)["Policy"]
    out["iam:policy"] = [policy["PolicyId"]]
    iam.attach_role_policy(RoleName=f"{tag}-role", PolicyArn=policy["Arn"])
    out["iam:instance-profile"] = [iam.create_instance_profile(InstanceProfileName=f"{tag}-profile", Tags=itags)["InstanceProfile"]["InstanceProfileId"]]
    out["cloudfront:distribution"] = [boto3.client("cloudfront", **kw).create_distribution_with_tags(DistributionConfigWithTags={"DistributionConfig": {
        "CallerReference": tag,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "example.org", "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https"},
        "Comment": tag, "Enabled": True,
    }, "Tags": {"Items": [{"Key": "inv", "Value": tag}]}})["Distribution"]["Id"]]
print(json.dumps(out))
