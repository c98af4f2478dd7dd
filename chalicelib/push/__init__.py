"""Push notifications for members with no live connection: devices, the notification a message
becomes, the providers (APNs and FCM through SNS mobile push, Web Push with VAPID), and the
worker Lambda that sends them off the send path."""
