# The relay: the one connection-holding tier. A Fargate service behind an
# application load balancer that terminates TLS and carries WebSockets,
# with an idle timeout above the relay's ping interval.

resource "aws_security_group" "alb" {
  name        = "${local.prefix}-relay-lb"
  description = "Sockerless relay load balancer: wss from shims and agents"
  vpc_id      = local.vpc_id
  tags        = local.tags

  ingress {
    description = "wss"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = var.relay_allowed_cidrs
  }
}

resource "aws_security_group" "relay" {
  name        = "${local.prefix}-relay"
  description = "Sockerless relay tasks: the load balancer only"
  vpc_id      = local.vpc_id
  tags        = local.tags

  egress {
    description = "image pulls, Secrets Manager, CloudWatch Logs"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group_rule" "alb_to_relay" {
  type                     = "egress"
  description              = "to the relay tasks"
  security_group_id        = aws_security_group.alb.id
  source_security_group_id = aws_security_group.relay.id
  from_port                = local.relay_port
  to_port                  = local.relay_port
  protocol                 = "tcp"
}

# Relay tasks hand a request to the task holding its agent, session or
# blob directly (relay/server/cluster.go), on the relay port.
resource "aws_security_group_rule" "relay_from_relay" {
  type                     = "ingress"
  description              = "from the other relay tasks"
  security_group_id        = aws_security_group.relay.id
  source_security_group_id = aws_security_group.relay.id
  from_port                = local.relay_port
  to_port                  = local.relay_port
  protocol                 = "tcp"
}

# The relay tasks find each other by DNS: ECS registers each running task's
# address under relay.NAMESPACE (Cloud Map, private to the VPC).
resource "aws_service_discovery_private_dns_namespace" "relay" {
  name        = local.relay_namespace
  description = "Sockerless relay tasks of ${local.prefix}"
  vpc         = local.vpc_id
  tags        = local.tags
}

resource "aws_service_discovery_service" "relay" {
  name = "relay"
  tags = local.tags

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.relay.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

resource "aws_security_group_rule" "relay_from_alb" {
  type                     = "ingress"
  description              = "from the load balancer"
  security_group_id        = aws_security_group.relay.id
  source_security_group_id = aws_security_group.alb.id
  from_port                = local.relay_port
  to_port                  = local.relay_port
  protocol                 = "tcp"
}

resource "aws_lb" "relay" {
  name               = "${local.prefix}-relay"
  load_balancer_type = "application"
  internal           = false
  security_groups    = [aws_security_group.alb.id]
  subnets            = local.alb_subnet_ids
  idle_timeout       = var.relay_idle_timeout_seconds
  tags               = local.tags
}

resource "aws_lb_target_group" "relay" {
  name                 = "${local.prefix}-relay"
  port                 = local.relay_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = local.vpc_id
  deregistration_delay = 40 # the relay drains open sessions for 30 s on SIGTERM
  tags                 = local.tags

  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "relay" {
  load_balancer_arn = aws_lb.relay.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  tags              = local.tags

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.relay.arn
  }
}

resource "aws_ecs_task_definition" "relay" {
  family                   = "${local.prefix}-relay"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.relay_cpu
  memory                   = var.relay_memory
  execution_role_arn       = aws_iam_role.relay_execution.arn
  tags                     = local.tags

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.relay_cpu_architecture
  }

  container_definitions = jsonencode([{
    name         = "relay"
    image        = var.relay_image
    essential    = true
    portMappings = [{ containerPort = local.relay_port, protocol = "tcp" }]
    stopTimeout  = 40
    environment = [
      { name = "PORT", value = tostring(local.relay_port) },
      { name = "SOCKERLESS_PING_INTERVAL", value = "${var.relay_ping_interval_seconds}s" },
      { name = "SOCKERLESS_RELAY_PEERS_DNS", value = "relay.${local.relay_namespace}" },
    ]
    # ECS reads the secret with the execution role and sets it in the
    # container only: it is not in the task definition.
    secrets = [{ name = "SOCKERLESS_SECRET", valueFrom = aws_secretsmanager_secret.deployment.arn }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.relay.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "relay"
      }
    }
  }])
}

resource "aws_ecs_service" "relay" {
  name            = "${local.prefix}-relay"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.relay.arn
  launch_type     = "FARGATE"
  desired_count   = var.relay_min_count
  # Any number of relay tasks serve one deployment (a task hands each
  # request to the task holding its agent), so old and new tasks run side
  # by side during a deployment; a replaced task drains for 30 s and its
  # agents reconnect to the others.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 30
  tags                               = local.tags

  network_configuration {
    subnets          = local.subnet_ids
    security_groups  = [aws_security_group.relay.id]
    assign_public_ip = var.assign_public_ip
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.relay.arn
    container_name   = "relay"
    container_port   = local.relay_port
  }

  service_registries {
    registry_arn = aws_service_discovery_service.relay.arn
  }

  lifecycle {
    ignore_changes = [desired_count] # the scaling policy owns it
  }

  depends_on = [aws_lb_listener.relay, aws_iam_role_policy.relay_execution]
}

# Scaling by connection count: the load balancer's open connections
# divided by the healthy relay tasks, held at relay_connections_per_task.
# Both metrics are the load balancer's own (free, no Container Insights).
resource "aws_appautoscaling_target" "relay" {
  count              = var.relay_autoscaling ? 1 : 0
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.relay.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.relay_min_count
  max_capacity       = var.relay_max_count
  tags               = local.tags
}

resource "aws_appautoscaling_policy" "relay_connections" {
  count              = var.relay_autoscaling ? 1 : 0
  name               = "${local.prefix}-relay-connections"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.relay[0].service_namespace
  resource_id        = aws_appautoscaling_target.relay[0].resource_id
  scalable_dimension = aws_appautoscaling_target.relay[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.relay_connections_per_task
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id    = "connections"
        label = "open connections"
        metric_stat {
          metric {
            namespace   = "AWS/ApplicationELB"
            metric_name = "ActiveConnectionCount"
            dimensions {
              name  = "LoadBalancer"
              value = aws_lb.relay.arn_suffix
            }
          }
          stat = "Sum"
        }
        return_data = false
      }
      metrics {
        id    = "tasks"
        label = "healthy relay tasks"
        metric_stat {
          metric {
            namespace   = "AWS/ApplicationELB"
            metric_name = "HealthyHostCount"
            dimensions {
              name  = "LoadBalancer"
              value = aws_lb.relay.arn_suffix
            }
            dimensions {
              name  = "TargetGroup"
              value = aws_lb_target_group.relay.arn_suffix
            }
          }
          stat = "Average"
        }
        return_data = false
      }
      metrics {
        id          = "per_task"
        label       = "open connections per relay task"
        expression  = "IF(tasks > 0, connections / tasks, connections)"
        return_data = true
      }
    }
  }
}

resource "aws_route53_record" "relay" {
  count   = var.route53_zone_id == null ? 0 : 1
  zone_id = var.route53_zone_id
  name    = var.relay_domain_name
  type    = "A"

  alias {
    name                   = aws_lb.relay.dns_name
    zone_id                = aws_lb.relay.zone_id
    evaluate_target_health = false
  }
}
