# The shape of the deployment, without providers, so that validate and plan run offline.
terraform {
  required_version = ">= 1.0"
}

variable "environment" {
  type    = string
  default = "staging"
}

variable "replicas" {
  type    = number
  default = 2
}

output "cluster" {
  value = "media-${var.environment}"
}

output "replicas" {
  value = var.replicas
}
